#!/usr/bin/env bash
# Make (once) and start a streaming replica of this machine's PostgreSQL on
# 127.0.0.1:5433, for the read-replica tests and benchmark. Debian's cluster
# tools, as root; the primary (cluster "main", port 5432) must be running.
# It allows replication connections from 127.0.0.1 on the primary (trust, as
# the primary's other local connections are on a test machine).
set -euo pipefail
port=${AQUEUE_REPLICA_PORT:-5433}
name=aqueue_replica
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if pg_isready -q -h 127.0.0.1 -p "$port"; then
    exit 0
fi
primary_hba=/etc/postgresql/$version/main/pg_hba.conf
if ! grep -Eq '^host[[:space:]]+replication' "$primary_hba"; then
    echo "host replication all 127.0.0.1/32 trust" >>"$primary_hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
fi
data=/var/lib/postgresql/$version/$name
if [ ! -f "$data/standby.signal" ]; then
    echo "making a streaming replica of PostgreSQL $version on port $port"
    pg_dropcluster --stop "$version" "$name" 2>/dev/null || true
    pg_createcluster "$version" "$name" -p "$port" >/dev/null
    cp "$primary_hba" "/etc/postgresql/$version/$name/pg_hba.conf"
    printf "listen_addresses = '127.0.0.1'\nport = %s\nhot_standby = on\n" "$port" \
        >"/etc/postgresql/$version/$name/conf.d/90-replica.conf"
    # pg_basebackup fills an empty directory (the postgres user cannot make one here).
    find "$data" -mindepth 1 -delete
    # -R writes standby.signal and primary_conninfo; -X stream copies the WAL
    # made during the copy, so the replica starts consistent.
    runuser -u postgres -- pg_basebackup -h 127.0.0.1 -p 5432 -U postgres -D "$data" \
        -R -X stream -c fast
fi
pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start
for _ in $(seq 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && exit 0
    sleep 1
done
echo "the replica on port $port did not start" >&2
exit 1
