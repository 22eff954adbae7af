#!/usr/bin/env bash
# First process of the private namespaces made by ./run (pid 1 there). Builds a private root in
# which the suite's hard-coded paths and host names exist, then runs driver.py in it and reaps
# orphans until the driver ends. When this script exits, the kernel kills whatever is left in
# the pid namespace, so no redis, moto, test server or worker outlives a run.
#
# The private root: a tmpfs with every top-level entry of the real root bind-mounted in (same
# paths, same files), except
#   /proc          a fresh proc for the new pid namespace
#   /tmp           $REFSUITE_LOG_DIR/tmp (the suite writes /tmp/a, handler files, key pairs)
#   /data/ufs      $REFSUITE_LOG_DIR/data-ufs (the suite's source directory; does not exist outside)
#   /var/lib       an overlay on the real /var/lib, so /var/lib/irods can exist (the driver binds
#                  each module's catalog and vault directory there)
#   /etc/hosts     a copy that also resolves redis, minio and irods-catalog-provider to 127.0.0.1
set -euo pipefail
log="$REFSUITE_LOG_DIR"
root="$REFSUITE_ROOT_MOUNT"

ip link set lo up

mount -t tmpfs -o mode=0755 reference-suite-root "$root"
for entry in /*; do
    name="${entry#/}"
    case "$name" in
        proc|tmp|data) mkdir "$root/$name"; continue ;;
    esac
    if [[ -L $entry ]]; then
        cp -P "$entry" "$root/$name"
    elif [[ -d $entry ]]; then
        mkdir "$root/$name"
        mount --rbind "$entry" "$root/$name"
        # Our own mount point lies inside the log directory; drop its copy so the tree does not
        # contain itself.
        if mountpoint -q "$root$root"; then umount -R -l "$root$root"; fi
    else
        touch "$root/$name"
        mount --bind "$entry" "$root/$name"
    fi
done
mount -t proc proc "$root/proc"

mkdir -p "$log/tmp" "$log/data-ufs"
chmod 1777 "$log/tmp"
chmod 0755 "$log/data-ufs"
mount --bind "$log/tmp" "$root/tmp"
mkdir -p "$root/data/ufs"
mount --bind "$log/data-ufs" "$root/data/ufs"

# A checkout, venv or binary under /tmp or /data (CI may clone under /tmp) would vanish behind the
# private directories: bind each back at its own path. Non-recursive binds, so the private /tmp
# seen again through a log directory inside the checkout is a plain directory, not a loop.
IFS=: read -r -a keep <<< "${REFSUITE_KEEP:-}"
for path in "${keep[@]}"; do
    [[ -d $path ]] || continue
    case "$path/" in
        /tmp/*|/data/*)
            mountpoint -q "$root$path" 2>/dev/null && continue
            mkdir -p "$root$path"
            mount --bind "$path" "$root$path" ;;
    esac
done

mkdir -p "$root/.reference-suite/varlib-upper" "$root/.reference-suite/varlib-work"
mount -t overlay reference-suite-varlib \
    -o "lowerdir=/var/lib,upperdir=$root/.reference-suite/varlib-upper,workdir=$root/.reference-suite/varlib-work" \
    "$root/var/lib"
mkdir -p "$root/var/lib/irods"

cp /etc/hosts "$log/hosts"
printf '127.0.0.1 redis minio irods-catalog-provider\n' >> "$log/hosts"
mount --bind "$log/hosts" "$root/etc/hosts"

# Run the driver in the new root; forward Ctrl-C / termination to it; reap orphans meanwhile
# (bash's wait collects every child, including re-parented ones). set -m: without job control a
# background job starts with SIGINT and SIGQUIT ignored, which the workers would inherit (the
# suite stops them with SIGINT).
set -m
chroot "$root" /usr/bin/env -C / "$REFSUITE_VENV/bin/python" "$REFSUITE_HERE/driver.py" &
driver=$!
set +m
trap 'kill -TERM "$driver" 2>/dev/null' INT TERM
status=0
while :; do
    wait "$driver" && status=0 || status=$?
    # wait returns early (status > 128) when a trapped signal arrives; keep waiting for the driver.
    kill -0 "$driver" 2>/dev/null || break
done
exit "$status"
