"""nextrl.federated.flower: the ServerApp / ClientApp deployed as a SuperLink and two SuperNodes, separate processes on
127.0.0.1, running the example Flower App (examples/flower_cartpole) for two rounds; the result equals the in-process
loop (client.run) on the same clients. Also the lazy import and the refused options."""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nextrl.federated import client as fc
from nextrl.federated import flower
from nextrl.federated.strategies import flatten

APP_DIR = Path(__file__).resolve().parents[2] / "examples" / "flower_cartpole"


def test_missing_flower_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "flwr.app", None)
    with pytest.raises(ImportError, match=r'pip install "nextrl\[flower\]"'):
        flower.client_app(lambda: None, lambda pid: None)


def test_in_process_only_options_are_refused():
    with pytest.raises(ValueError, match=r"server_app: \['dp_clip', 'attack'\] are options of the in-process loop"):
        flower.server_app(lambda: None, fc.FederatedConfig(dp_clip=1.0, attack="sign_flip", num_attackers=1))


def test_run_config_overrides():
    cfg = flower.config_from_run(fc.FederatedConfig(), {"num-server-rounds": 3, "aggregator": "median", "seed": 4})
    assert (cfg.rounds, cfg.aggregator, cfg.eval_episodes) == (3, "median", 8)
    with pytest.raises(ValueError, match=r"FederatedConfig: aggregator must be one of"):
        flower.config_from_run(fc.FederatedConfig(), {"aggregator": "mean"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"port {port} not open after {timeout_s} s:\n{log.read_text()}")


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class _Processes:
    """Processes started in their own sessions (each its own process group, children included), stopped as
    groups: SIGTERM, then SIGKILL after 10 s."""

    def __init__(self, tmp: Path, env: dict):
        self.tmp, self.env, self.procs = tmp, env, []

    def start(self, name: str, args: list[str]) -> tuple[subprocess.Popen, Path]:
        log = self.tmp / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc, log

    def stop(self) -> None:
        for p in self.procs:
            if _group_alive(p.pid):
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs:
            while _group_alive(p.pid) and time.monotonic() < deadline:
                p.poll()
                time.sleep(0.1)
            if _group_alive(p.pid):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {f.name}\n{f.read_text()[-3000:]}" for f in sorted(self.tmp.glob("*.log")))


@pytest.fixture
def deployment(tmp_path):
    """A SuperLink and two SuperNodes (partition ids 0 and 1) on free ports of 127.0.0.1, insecure, with a
    FLWR_HOME of their own; yields (superlink port, env, processes) and stops every process group at the end."""
    pytest.importorskip("flwr")
    home = tmp_path / "flwr_home"
    home.mkdir()
    env = dict(
        os.environ,
        FLWR_TELEMETRY_ENABLED="0",
        FLWR_HOME=str(home),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    env["PYTHONUNBUFFERED"] = "1"
    procs = _Processes(tmp_path, env)
    try:
        link = _free_port()
        p, log = procs.start(
            "superlink",
            [_tool("flower-superlink"), "--insecure", "--host", "127.0.0.1", "--port", str(link),
             "--disable-runtime-dependency-installation"],
        )  # fmt: skip
        _wait_port(link, p, log)
        for i in range(2):
            port = _free_port()
            p, log = procs.start(
                f"supernode{i}",
                [_tool("flower-supernode"), "--insecure", "--superlink", f"127.0.0.1:{link}", "--host", "127.0.0.1",
                 "--port", str(port), "--node-config", f"partition-id={i}"],
            )  # fmt: skip
            _wait_port(port, p, log)
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "test"\n\n[superlink.test]\naddress = "127.0.0.1:{link}"\ninsecure = true\n'
        )
        yield link, env, procs
    finally:
        procs.stop()
    assert not any(_group_alive(p.pid) for p in procs.procs)  # nothing leaked


def test_two_rounds_on_a_superlink_and_two_supernodes_equal_the_in_process_loop(deployment, tmp_path):
    _, env, procs = deployment
    app = tmp_path / "app"
    shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("__pycache__"))
    result = tmp_path / "result.npz"
    cmd = [_tool("flwr"), "run", str(app), "test", "--stream", "--run-config", f"result-path='{result}'"]
    try:
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=420, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"flwr run timed out\n{procs.logs()}") from e
    assert run.returncode == 0 and result.exists(), f"{run.stdout}\n{run.stderr}\n{procs.logs()}"
    out = np.load(result)

    sys.path.insert(0, str(APP_DIR))
    try:
        task = importlib.import_module("nextrl_flower_cartpole.app")
    finally:
        sys.path.remove(str(APP_DIR))
    ref = fc.run(
        task.make_model, [task.make_client(i) for i in range(2)], fc.FederatedConfig(2, eval_episodes=2), seed=0
    )
    np.testing.assert_allclose(out["x"], flatten(dict(ref.model.named_parameters()))[0].numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(out["eval_returns"], np.array(ref.eval_returns), rtol=0, atol=1e-9)
    assert out["eval_returns"].shape == (3, 2) and list(out["dropped"]) == [0, 0]
    # the round's timing: every node's downlink, evaluation, training and uplink lie within the round trip
    parts = [out[k] for k in ("downlink_s", "client_eval_s", "client_train_s", "uplink_s")]
    assert all(p.shape == (2, 2) and (p >= 0).all() for p in parts)
    assert out["round_s"].shape == out["aggregate_s"].shape == (2,) and (out["aggregate_s"] > 0).all()
    assert (sum(parts) <= out["round_s"][:, None] + 0.05).all()


def _write_certificates(folder: Path) -> None:
    """ca.pem (a self-signed CA), server.pem / server.key (127.0.0.1, signed by that CA) and other_ca.pem (an
    unrelated self-signed CA), with `cryptography`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def cert(cn, key, issuer_cn, issuer_key, ca):
        b = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name(issuer_cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return b.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    ca_key, server_key, other_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    (folder / "ca.pem").write_bytes(cert("nextrl test CA", ca_key, "nextrl test CA", ca_key, True))
    (folder / "server.pem").write_bytes(cert("127.0.0.1", server_key, "nextrl test CA", ca_key, False))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (folder / "other_ca.pem").write_bytes(cert("another CA", other_key, "another CA", other_key, True))


def _write_node_keys(folder: Path) -> None:
    """node_a / node_b (OpenSSH P-384 private keys) and their .pub public keys, Flower's SuperNode key format."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ec

    for n in "ab":
        key = ec.generate_private_key(ec.SECP384R1())
        private = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, ser.NoEncryption())
        (folder / f"node_{n}").write_bytes(private)
        public = key.public_key().public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH)
        (folder / f"node_{n}.pub").write_bytes(public)


def test_tls_and_node_authentication_refuse_wrong_supernodes(tmp_path):
    """A TLS SuperLink (certificate signed by a test CA) with SuperNode authentication, node_a's public key
    registered through `flwr supernode register`: a SuperNode that trusts another CA fails the handshake and exits,
    one with the right CA and the unregistered key node_b is refused and exits, and the one with the right CA and
    node_a is activated; the SuperLink activates exactly one node."""
    pytest.importorskip("flwr")
    _write_certificates(tmp_path)
    _write_node_keys(tmp_path)
    home = tmp_path / "flwr_home"
    home.mkdir()
    env = dict(
        os.environ,
        FLWR_TELEMETRY_ENABLED="0",
        FLWR_HOME=str(home),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    env["PYTHONUNBUFFERED"] = "1"
    procs = _Processes(tmp_path, env)
    try:
        link = _free_port()
        p, log = procs.start(
            "superlink",
            [_tool("flower-superlink"), "--ssl-ca-certfile", str(tmp_path / "ca.pem"),
             "--ssl-certfile", str(tmp_path / "server.pem"), "--ssl-keyfile", str(tmp_path / "server.key"),
             "--enable-supernode-auth", "--host", "127.0.0.1", "--port", str(link),
             "--disable-runtime-dependency-installation"],
        )  # fmt: skip
        _wait_port(link, p, log)
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "test"\n\n[superlink.test]\naddress = "127.0.0.1:{link}"\n'
            f'root-certificates = "{tmp_path / "ca.pem"}"\n'
        )
        reg = subprocess.run(
            [_tool("flwr"), "supernode", "register", str(tmp_path / "node_a.pub"), "test"],
            env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert reg.returncode == 0 and "registered successfully" in reg.stdout, f"{reg.stdout}\n{reg.stderr}"

        def supernode(tag, ca, key):
            return procs.start(
                f"supernode_{tag}",
                [_tool("flower-supernode"), "--root-certificates", str(tmp_path / ca), "--superlink",
                 f"127.0.0.1:{link}", "--host", "127.0.0.1", "--port", str(_free_port()),
                 "--auth-supernode-private-key", str(tmp_path / key), "--node-config", "partition-id=0"],
            )  # fmt: skip

        for tag, ca, key, reason in [
            ("wrong_ca", "other_ca.pem", "node_a", "CERTIFICATE_VERIFY_FAILED"),
            ("unregistered_key", "ca.pem", "node_b", "Failed to activate SuperNode"),
        ]:
            bad, bad_log = supernode(tag, ca, key)
            try:
                code = bad.wait(timeout=120)
            except subprocess.TimeoutExpired as e:
                raise AssertionError(f"the SuperNode with {tag} kept running\n{procs.logs()}") from e
            assert code != 0 and reason in bad_log.read_text(), procs.logs()

        good, good_log = supernode("registered", "ca.pem", "node_a")
        deadline = time.monotonic() + 120
        while "SuperNode ID" not in good_log.read_text():
            assert good.poll() is None and time.monotonic() < deadline, procs.logs()
            time.sleep(0.2)
        assert (tmp_path / "superlink.log").read_text().count("Activated node_id") == 1, procs.logs()
    finally:
        procs.stop()
    assert not any(_group_alive(p.pid) for p in procs.procs)


_SIMULATE = """
import sys
import numpy as np
from nextrl_flower_cartpole import app
from nextrl.federated import client as fc, flower
out = flower.simulate(app.make_model, app.make_client, fc.FederatedConfig(2, eval_episodes=2), 2, seed=0, num_cpus=2)
np.savez(sys.argv[1], **out)
"""


def test_simulation_engine_two_rounds_equal_the_in_process_loop(tmp_path):
    """flower.simulate: the example app's ServerApp and ClientApp on Flower's simulation engine (2 virtual
    SuperNodes, each ClientApp in a Ray actor), 2 rounds, give the in-process loop's evaluation returns exactly and
    its parameters to float rounding. Run in a child process group (Ray's workers and its unclosed files stay out of
    pytest's process; the group is stopped at the end). About 60 s at load 10 on 2 cores, nearly all of it Ray's
    start (the in-process loop takes 7 s)."""
    pytest.importorskip("ray")
    env = dict(
        os.environ,
        FLWR_TELEMETRY_ENABLED="0",
        PYTHONPATH=os.pathsep.join([str(APP_DIR), os.environ.get("PYTHONPATH", "")]),
    )
    env["PYTHONUNBUFFERED"] = "1"
    procs = _Processes(tmp_path, env)
    result = tmp_path / "result.npz"
    try:
        p, log = procs.start("simulate", [sys.executable, "-c", _SIMULATE, str(result)])
        try:
            code = p.wait(timeout=420)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"the simulation timed out\n{procs.logs()}") from e
        assert code == 0 and result.exists(), procs.logs()
    finally:
        procs.stop()
    assert not any(_group_alive(p.pid) for p in procs.procs)  # nothing leaked
    out = np.load(result)
    sys.path.insert(0, str(APP_DIR))
    try:
        task = importlib.import_module("nextrl_flower_cartpole.app")
    finally:
        sys.path.remove(str(APP_DIR))
    ref = fc.run(
        task.make_model, [task.make_client(i) for i in range(2)], fc.FederatedConfig(2, eval_episodes=2), seed=0
    )
    np.testing.assert_allclose(out["x"], flatten(dict(ref.model.named_parameters()))[0].numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(out["eval_returns"], np.array(ref.eval_returns), rtol=0, atol=1e-9)
    assert out["eval_returns"].shape == (3, 2) and list(out["dropped"]) == [0, 0]


def test_simulation_engine_errors(monkeypatch):
    with pytest.raises(ValueError, match=r"simulate: num_supernodes must be an int >= 1, got 0"):
        flower.simulate(lambda: None, lambda pid: None, fc.FederatedConfig(), 0)
    with pytest.raises(ValueError, match=r"simulate: \['compress_ratio'\] are options of the in-process loop"):
        flower.simulate(lambda: None, lambda pid: None, fc.FederatedConfig(compress_ratio=0.5), 2)
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r'pip install "nextrl\[flower-sim\]"'):
        flower.simulate(lambda: None, lambda pid: None, fc.FederatedConfig(), 2)
