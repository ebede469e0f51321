"""An unmodified Mininet network, on userspace Open vSwitch, driven by `netweave serve
--forwarding`: every host pings every other (pingall) with nothing dropped.

Mininet uses the system's default Open vSwitch paths, so the whole scenario runs in a
private network namespace with a private /run/openvswitch (a tmpfs): nothing it starts
can meet another lab, and everything ends with the namespace.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

SCENARIO = r"""
set -u
mkdir -p /run/openvswitch && mount -t tmpfs none /run/openvswitch
D=/run/openvswitch
ovsdb-tool create $D/conf.db /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server $D/conf.db --remote=punix:$D/db.sock --pidfile --detach --no-chdir -vconsole:off \
    --log-file=$D/ovsdb-server.log
ovs-vsctl --no-wait init
ovs-vswitchd unix:$D/db.sock --pidfile --detach --no-chdir -vconsole:off --log-file=$D/vswitchd.log
ip link set lo up
"$PYTHON" -m netweave serve --port 18080 --db "sqlite:///$WORK/nw.db" --forwarding \
    > "$WORK/serve.log" 2>&1 &
SERVE=$!
for _ in $(seq 100); do
    "$PYTHON" -c 'import socket; socket.create_connection(("127.0.0.1", 6653))' 2>/dev/null \
        && break
    sleep 0.1
done
timeout 120 mn --switch ovs,datapath=user --controller remote,ip=127.0.0.1,port=6653 \
    --topo tree,depth=2,fanout=3 --test pingall
status=$?
kill $SERVE; wait $SERVE
mn -c > /dev/null 2>&1
ovs-appctl -t ovs-vswitchd exit; ovs-appctl -t ovsdb-server exit
exit $status
"""


PRIVATE = ["ip", "netns", "exec"]


@pytest.mark.skipif(shutil.which("mn") is None, reason="needs Debian's mininet")
def test_mininet_tree_pingall_drops_nothing(tmp_path: Path) -> None:
    netns = f"nwmn{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        result = subprocess.run(
            [*PRIVATE, netns, "unshare", "-m", "--propagation", "private", "bash", "-c", SCENARIO],
            env={
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                "PYTHON": sys.executable,
                "WORK": str(tmp_path),
                "HOME": str(tmp_path),
            },
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)
    output = result.stdout + result.stderr
    log = (tmp_path / "serve.log").read_text() if (tmp_path / "serve.log").exists() else ""
    assert "Results: 0% dropped (72/72 received)" in output, output[-3000:] + log[-3000:]
