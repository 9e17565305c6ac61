-- aqueue's mysql schema after migration 0015: written by
-- scripts/dump_schema.py from a database migrated step by step. Do not edit:
-- change the schema with a new migration, then run the script again.

CREATE TABLE `aqueue_flow` (
  `minute` bigint(20) NOT NULL,
  `queue` varchar(255) NOT NULL,
  `succeeded` bigint(20) NOT NULL DEFAULT 0,
  `failed` bigint(20) NOT NULL DEFAULT 0,
  `retried` bigint(20) NOT NULL DEFAULT 0,
  `depth` bigint(20) DEFAULT NULL,
  PRIMARY KEY (`minute`,`queue`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `aqueue_job_deps` (
  `child` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `parent` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `run_on_failure` tinyint(4) NOT NULL DEFAULT 0,
  `released` tinyint(4) NOT NULL DEFAULT 0,
  PRIMARY KEY (`child`,`parent`),
  KEY `aqueue_job_deps_pending` (`parent`,`released`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_jobs` (
  `id` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `task` varchar(255) NOT NULL,
  `queue` varchar(255) NOT NULL,
  `status` varchar(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `neg_priority` smallint(6) NOT NULL DEFAULT 0,
  `args` longtext NOT NULL,
  `kwargs` longtext NOT NULL,
  `result` longtext DEFAULT NULL,
  `error` longtext DEFAULT NULL,
  `progress` longtext DEFAULT NULL,
  `attempts` int(11) NOT NULL DEFAULT 0,
  `max_attempts` int(11) NOT NULL,
  `timeout` double DEFAULT NULL,
  `unique_key` varchar(255) DEFAULT NULL,
  `active_unique_key` varchar(255) GENERATED ALWAYS AS (case when `status` in ('queued','running') then `unique_key` end) STORED,
  `worker` varchar(255) DEFAULT NULL,
  `cancel_requested` tinyint(4) NOT NULL DEFAULT 0,
  `created_at` datetime(6) NOT NULL,
  `scheduled_at` datetime(6) NOT NULL,
  `started_at` datetime(6) DEFAULT NULL,
  `finished_at` datetime(6) DEFAULT NULL,
  `lease_expires_at` datetime(6) DEFAULT NULL,
  `history` longtext DEFAULT NULL,
  `problem_key` varchar(272) GENERATED ALWAYS AS (case when `status` in ('failed','cancelled') then concat(convert(`status` using utf8mb4),':',`task`) end) VIRTUAL,
  `meta` longtext DEFAULT NULL,
  `limit_key` varchar(255) DEFAULT NULL,
  `limited_status` varchar(16) CHARACTER SET ascii COLLATE ascii_bin GENERATED ALWAYS AS (case when `limit_key` is not null then `status` end) VIRTUAL,
  `claim_status` varchar(16) CHARACTER SET ascii COLLATE ascii_bin GENERATED ALWAYS AS (case when `limit_key` is null then `status` end) VIRTUAL,
  `waiting` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `aqueue_jobs_unique_key` (`active_unique_key`),
  KEY `aqueue_jobs_running` (`status`,`lease_expires_at`),
  KEY `aqueue_jobs_status_queue` (`status`,`queue`,`scheduled_at`),
  KEY `aqueue_jobs_queue` (`queue`,`id`),
  KEY `aqueue_jobs_task` (`task`,`id`),
  KEY `aqueue_jobs_finished` (`finished_at`,`queue`,`status`),
  KEY `aqueue_jobs_problem_key` (`problem_key`,`id`),
  KEY `aqueue_jobs_limited` (`limited_status`,`task`,`limit_key`,`neg_priority`,`scheduled_at`,`id`),
  KEY `aqueue_jobs_claim_free` (`claim_status`,`neg_priority`,`scheduled_at`,`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_leaders` (
  `duty` varchar(255) NOT NULL,
  `holder` varchar(255) NOT NULL,
  `term` bigint(20) NOT NULL,
  `expires_at` datetime(6) NOT NULL,
  PRIMARY KEY (`duty`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_limit_starts` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `task` varchar(255) NOT NULL,
  `limit_key` varchar(255) NOT NULL,
  `started_at` datetime(6) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `aqueue_limit_starts_key` (`task`,`limit_key`,`started_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_limits` (
  `task` varchar(255) NOT NULL,
  `limit_key` varchar(255) NOT NULL,
  PRIMARY KEY (`task`,`limit_key`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_migrations` (
  `version` int(11) NOT NULL,
  `name` varchar(255) NOT NULL,
  `applied_at` datetime(6) NOT NULL,
  PRIMARY KEY (`version`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `aqueue_periodic` (
  `name` varchar(255) NOT NULL,
  `last_tick` datetime(6) NOT NULL,
  `updated_at` datetime(6) NOT NULL,
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_queues` (
  `name` varchar(255) NOT NULL,
  `paused` tinyint(4) NOT NULL DEFAULT 0,
  `changed_at` datetime(6) NOT NULL,
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_sessions` (
  `key` char(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `created_at` datetime(6) NOT NULL,
  `expires_at` datetime(6) NOT NULL,
  PRIMARY KEY (`key`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `aqueue_workers` (
  `name` varchar(255) NOT NULL,
  `host` varchar(255) NOT NULL,
  `pid` int(11) NOT NULL,
  `queues` longtext DEFAULT NULL,
  `concurrency` int(11) NOT NULL,
  `version` varchar(64) NOT NULL,
  `status` varchar(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `started_at` datetime(6) NOT NULL,
  `heartbeat_at` datetime(6) NOT NULL,
  `expires_at` datetime(6) NOT NULL,
  `stopped_at` datetime(6) DEFAULT NULL,
  `node` varchar(255) DEFAULT NULL,
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_batches` (
  `id` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `callbacks` longtext NOT NULL,
  `anchor` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `created_at` datetime(6) NOT NULL,
  `closed_at` datetime(6) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `aqueue_batches_anchor` (`anchor`),
  CONSTRAINT `aqueue_batches_anchor` FOREIGN KEY (`anchor`) REFERENCES `aqueue_jobs` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_job_output` (
  `job_id` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `id` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `attempt` int(11) NOT NULL,
  `output` longtext NOT NULL,
  `cut` bigint(20) NOT NULL DEFAULT 0,
  `created_at` datetime(6) NOT NULL,
  PRIMARY KEY (`job_id`,`id`),
  CONSTRAINT `aqueue_job_output_job` FOREIGN KEY (`job_id`) REFERENCES `aqueue_jobs` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_job_signals` (
  `job_id` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `name` varchar(255) NOT NULL,
  `payload` longtext NOT NULL,
  `created_at` datetime(6) NOT NULL,
  PRIMARY KEY (`job_id`,`name`),
  CONSTRAINT `aqueue_job_signals_job` FOREIGN KEY (`job_id`) REFERENCES `aqueue_jobs` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_job_steps` (
  `job_id` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `name` varchar(255) NOT NULL,
  `attempt` int(11) NOT NULL,
  `result` longtext NOT NULL,
  `created_at` datetime(6) NOT NULL,
  PRIMARY KEY (`job_id`,`name`),
  CONSTRAINT `aqueue_job_steps_job` FOREIGN KEY (`job_id`) REFERENCES `aqueue_jobs` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_job_tags` (
  `job_id` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `tag` varchar(200) NOT NULL,
  PRIMARY KEY (`job_id`,`tag`),
  KEY `aqueue_job_tags_tag` (`tag`,`job_id`),
  CONSTRAINT `aqueue_job_tags_job` FOREIGN KEY (`job_id`) REFERENCES `aqueue_jobs` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `aqueue_unique_keys` (
  `unique_key` varchar(255) NOT NULL,
  `job_id` char(36) CHARACTER SET ascii COLLATE ascii_bin DEFAULT NULL,
  `created_at` datetime(6) NOT NULL,
  PRIMARY KEY (`unique_key`),
  KEY `aqueue_unique_keys_job` (`job_id`),
  CONSTRAINT `aqueue_unique_keys_job` FOREIGN KEY (`job_id`) REFERENCES `aqueue_jobs` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
