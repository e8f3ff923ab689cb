#!/usr/bin/env python3
"""Load benchmark: wicket, nginx and HAProxy as reverse proxies in front of one backend.

Run it through ./run.sh, which installs the tools and builds the binaries first.

    load.py --wicket BIN --handshake-load BIN [--rounds 3] [--duration 8] [--warmup 1]
            [--scenarios abcde] [--targets wicket,nginx,haproxy] [--publish]

Placement: the proxy under test runs alone on --proxy-cpu (default 0); this script, the
load generators and the backend (one nginx worker serving fixed bodies) on --gen-cpu
(default 1). Every run starts a fresh proxy, warms it up, measures, and stops it. Rounds
are interleaved: round 1 runs every scenario against every proxy, then round 2, and so on.

Scenarios:
  a  HTTP/1.1 keep-alive, 48-byte body          wrk -t1 -c64
  b  HTTP/1.1 keep-alive, 64 KiB body            wrk -t1 -c64 /64k
  c  HTTPS/1.1 keep-alive, TLS at the proxy      wrk -t1 -c64 https
  d  new TLS connection per request (RSA-2048)   tls-handshake-load -c64 (no resumption)
  e  HTTP/2 over TLS                             h2load -t1 -c16 -m32

Measured per run: requests/s, p50/p99 latency (wrk's histogram; h2load's per-request log;
tls-handshake-load exact), proxy CPU-seconds (utime+stime+cutime+cstime of every process in
the proxy's session, from /proc/PID/stat), peak RSS (sum of VmHWM over those processes),
and the busy/steal share of both cores. The report gives the median over rounds and, for
every figure, the ratio to nginx paired by round.
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent.parent
WORK = BENCH_DIR / "work"  # certificates and static files, kept across runs

HTTP = "127.0.0.1:18080"
HTTPS = "127.0.0.1:18443"
ADMIN = "127.0.0.1:18254"
BACKEND = "127.0.0.1:19000"
SMALL_BODY = 48
BIG_BODY = 65536
CLK_TCK = os.sysconf("SC_CLK_TCK")

SCENARIOS = {
    "a": "HTTP/1.1 keep-alive, 48 B body",
    "b": "HTTP/1.1 keep-alive, 64 KiB body",
    "c": "HTTPS/1.1 keep-alive",
    "d": "new TLS connection per request",
    "e": "HTTP/2 over TLS",
}
TARGETS = ("wicket", "nginx", "haproxy")


def log(message):
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ /proc


def stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (field 3 onwards), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def session_pids(sid):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat_fields(entry)
            # fields[3] is field 6 of stat(5): the session id.
            if fields and int(fields[3]) == sid:
                pids.append(int(entry))
    return pids


def session_ticks(sid):
    """utime + stime + cutime + cstime (fields 14-17) summed over the session."""
    total = 0
    for pid in session_pids(sid):
        fields = stat_fields(pid)
        if fields:
            total += sum(int(v) for v in fields[11:15])
    return total


def session_hwm_kb(sid):
    total = 0
    for pid in session_pids(sid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_times(cpu):
    """(busy, steal, total) ticks of one CPU from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            v = [int(x) for x in line.split()[1:9]]
            user, nice, system, idle, iowait, irq, softirq, steal = v
            return user + nice + system + irq + softirq, steal, sum(v)
    raise RuntimeError(f"cpu{cpu} not in /proc/stat")


def share(before, after, index):
    total = after[2] - before[2]
    return 100.0 * (after[index] - before[index]) / total if total > 0 else 0.0


# ------------------------------------------------------------------ processes


class Session:
    """A process started in its own session, pinned to one CPU."""

    def __init__(self, name, argv, cpu, logfile, env=None):
        self.name = name
        self.logfile = open(logfile, "wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(cpu), *argv],
            stdin=subprocess.DEVNULL,
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        self.sid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        for sig, wait in ((signal.SIGINT, 0.5), (signal.SIGTERM, 4.0), (signal.SIGKILL, 2.0)):
            if not session_pids(self.sid):
                break
            try:
                os.killpg(self.sid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and session_pids(self.sid):
                if self.proc.poll() is not None and not session_pids(self.sid):
                    break
                time.sleep(0.05)
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        self.logfile.close()


def curl(*args, timeout=3):
    result = subprocess.run(
        ["curl", "-sk", "-m", str(timeout), *args],
        capture_output=True,
        check=False,
    )
    return result.stdout.decode(errors="replace")


def wait_ready(urls, session, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if session is not None and not session.alive():
            return False
        if all(curl("-o", "/dev/null", "-w", "%{http_code}", url) == "200" for url in urls):
            return True
        time.sleep(0.1)
    return False


def port_free(addr):
    out = subprocess.run(
        ["ss", "-Htln", f"( sport = :{addr.rsplit(':', 1)[1]} )"],
        capture_output=True,
        check=False,
    ).stdout
    return not out.strip()


# ------------------------------------------------------------------ setup


def render(template, out, values):
    text = (BENCH_DIR / "conf" / template).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    if "{{" in text:
        raise RuntimeError(f"unfilled placeholder in {template}")
    out.write_text(text)


def ensure_files():
    """RSA-2048 self-signed certificate and the 64 KiB body, made once."""
    (WORK / "www").mkdir(parents=True, exist_ok=True)
    big = WORK / "www" / "64k.bin"
    if not big.exists() or big.stat().st_size != BIG_BODY:
        big.write_bytes(b"w" * BIG_BODY)
    cert, key, pem = WORK / "server.crt", WORK / "server.key", WORK / "server.pem"
    if not pem.exists():
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                "-subj", "/CN=bench.wicket.test",
                "-addext", "subjectAltName=DNS:bench.wicket.test,DNS:localhost,IP:127.0.0.1",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True,
            capture_output=True,
        )
        pem.write_bytes(cert.read_bytes() + key.read_bytes())
    return cert, key, pem


def wicket_manifests(directory, cert, key):
    """Every host and path → one Service whose only endpoint is the backend; the
    certificate is the default one (clients connect by IP, without SNI)."""
    import base64

    host, port = BACKEND.rsplit(":", 1)
    b64 = lambda p: base64.b64encode(p.read_bytes()).decode()  # noqa: E731
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bench.yaml").write_text(
        f"""apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: wicket
spec:
  controller: wicket.dev/ingress-controller
---
apiVersion: v1
kind: Service
metadata:
  name: backend
  namespace: bench
spec:
  ports:
    - name: http
      port: 80
      targetPort: {port}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: backend-1
  namespace: bench
  labels:
    kubernetes.io/service-name: backend
addressType: IPv4
ports:
  - name: http
    port: {port}
endpoints:
  - addresses: ["{host}"]
    conditions: {{ ready: true }}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: everything
  namespace: bench
spec:
  ingressClassName: wicket
  rules:
    - http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: backend
                port:
                  name: http
---
apiVersion: v1
kind: Secret
metadata:
  name: bench-tls
  namespace: bench
type: kubernetes.io/tls
data:
  tls.crt: {b64(cert)}
  tls.key: {b64(key)}
"""
    )


def wicket_command(binary, manifests):
    argv = [
        str(binary), "serve", "--manifests", str(manifests),
        "--http-addr", HTTP, "--https-addr", HTTPS, "--admin-addr", ADMIN,
        "--default-ssl-certificate", "bench/bench-tls", "--log-level", "warn",
    ]
    help_text = subprocess.run(
        [str(binary), "serve", "--help"], capture_output=True, check=False
    ).stdout.decode(errors="replace")
    if "--access-log-format" in help_text:
        argv += ["--access-log-format", "off"]
    return argv


# ------------------------------------------------------------------ load generators


def load_command(scenario, seconds, handshake_load, h2log):
    wrk = ["wrk", "-t1", "-c64", f"-d{seconds}s", "--timeout", "5s",
           "-s", str(BENCH_DIR / "lib" / "wrk-summary.lua")]
    return {
        "a": wrk + [f"http://{HTTP}/"],
        "b": wrk + [f"http://{HTTP}/64k"],
        "c": wrk + [f"https://{HTTPS}/"],
        "d": [str(handshake_load), "-c", "64", "-d", str(seconds), "--timeout", "5",
              f"https://{HTTPS}/"],
        "e": ["h2load", "-t1", "-c16", "-m32", "-D", str(seconds)]
        + ([f"--log-file={h2log}"] if h2log else [])
        + [f"https://{HTTPS}/"],
    }[scenario]


def parse_summary_line(text):
    """`WRKRESULT …` (wrk-summary.lua) or `LGRESULT …` (tls-handshake-load)."""
    match = re.search(r"^(?:WRK|LG)RESULT (.*)$", text, re.M)
    if not match:
        return None
    kv = dict(item.split("=", 1) for item in match.group(1).split())
    return {
        "requests": int(kv["requests"]),
        "seconds": int(kv["duration_us"]) / 1e6,
        "errors": int(kv["errors"]),
        "p50_ms": int(kv["p50_us"]) / 1000,
        "p99_ms": int(kv["p99_us"]) / 1000,
    }


def parse_h2load(text, h2log):
    done = re.search(r"finished in ([\d.]+)(m?s),", text)
    counts = re.search(
        r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored, (\d+) timeout",
        text,
    )
    if not done or not counts:
        return None
    seconds = float(done.group(1)) / (1000 if done.group(2) == "ms" else 1)
    latencies = []
    if h2log and h2log.exists():
        with open(h2log) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    latencies.append(int(parts[2]))  # microseconds
        h2log.unlink()  # large; the percentiles are kept in the run record
    latencies.sort()

    def pct(q):
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(q / 100 * len(latencies)))] / 1000

    return {
        "requests": int(counts.group(1)),
        "seconds": seconds,
        "errors": sum(int(counts.group(i)) for i in (2, 3, 4)),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
    }


def run_load(scenario, seconds, args, out, h2log=None):
    cmd = load_command(scenario, seconds, args.handshake_load, h2log)
    result = subprocess.run(cmd, capture_output=True, check=False, timeout=seconds + 60)
    text = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    out.write_text(text)
    if scenario == "e":
        return parse_h2load(text, h2log)
    return parse_summary_line(text)


# ------------------------------------------------------------------ the run


def busy_now(cpus, seconds=2.0):
    before = [cpu_times(c) for c in cpus]
    time.sleep(seconds)
    after = [cpu_times(c) for c in cpus]
    return [share(b, a, 0) for b, a in zip(before, after)]


def wait_quiet(args):
    deadline = time.monotonic() + args.quiet_wait
    while True:
        busy = busy_now([args.proxy_cpu, args.gen_cpu])
        if max(busy) <= 10:
            return None
        if time.monotonic() >= deadline:
            return f"the machine was busy before the run (CPU busy {busy[0]:.0f}% / {busy[1]:.0f}%)"
        log(f"waiting for an idle machine (CPU busy {busy[0]:.0f}% / {busy[1]:.0f}%)")
        time.sleep(3)


def machine():
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) / 1048576
    os_name = "Linux"
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return f"{os.cpu_count()} vCPU {model}, {mem:.1f} GiB RAM, {os_name}, kernel {os.uname().release}"


def versions(args):
    def first_line(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, check=False)
            return (r.stdout + r.stderr).decode(errors="replace").strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    return {
        "wicket": first_line([str(args.wicket), "--version"]),
        "nginx": first_line(["nginx", "-v"]),
        "haproxy": first_line(["haproxy", "-v"]),
        "wrk": first_line(["wrk", "-v"]),
        "h2load": first_line(["h2load", "--version"]),
        "openssl": first_line(["openssl", "version"]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wicket", type=Path, default=REPO / "target/release/wicket")
    parser.add_argument("--handshake-load", type=Path,
                        default=BENCH_DIR / "loadgen/target/release/tls-handshake-load")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured seconds per run")
    parser.add_argument("--scenarios", default="abcde")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--proxy-cpu", type=int, default=0)
    parser.add_argument("--gen-cpu", type=int, default=1)
    parser.add_argument("--quiet-wait", type=int, default=120,
                        help="seconds to wait for an idle machine before starting")
    parser.add_argument("--publish", action="store_true",
                        help="write the table into docs/benchmarks.md and the plot into docs/")
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios if s in SCENARIOS]
    targets = [t for t in args.targets.split(",") if t in TARGETS]
    if "nginx" not in targets:
        parser.error("--targets must include nginx: every ratio is to nginx")
    for tool in ("nginx", "haproxy", "wrk", "h2load", "curl", "openssl", "taskset", "ss"):
        if not shutil.which(tool):
            parser.error(f"{tool} is missing (run e2e/bench/run.sh, which installs it)")
    for binary in (args.wicket, args.handshake_load):
        if not os.access(binary, os.X_OK):
            parser.error(f"{binary} is not built (run e2e/bench/run.sh)")
    for addr in (HTTP, HTTPS, ADMIN, BACKEND):
        if not port_free(addr):
            parser.error(f"{addr} is in use")

    os.sched_setaffinity(0, {args.gen_cpu})
    # Every process started here inherits the raised descriptor limit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    run_dir = BENCH_DIR / "runs" / time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for sub in ("out", "logs", "tmp"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    log(f"run directory: {run_dir}")
    cert, key, pem = ensure_files()
    values = {"RUN": run_dir, "WWW": WORK / "www", "BACKEND": BACKEND, "HTTP": HTTP,
              "HTTPS": HTTPS, "CERT": cert, "KEY": key, "PEM": pem}
    render("backend-nginx.conf", run_dir / "backend-nginx.conf", values)
    render("nginx-proxy.conf", run_dir / "nginx-proxy.conf", values)
    render("haproxy.cfg", run_dir / "haproxy.cfg", values)
    wicket_manifests(run_dir / "manifests", cert, key)
    commands = {
        "wicket": wicket_command(args.wicket, run_dir / "manifests"),
        "nginx": ["nginx", "-p", f"{run_dir}/", "-c", str(run_dir / "nginx-proxy.conf"),
                  "-e", str(run_dir / "logs" / "nginx-proxy-error.log")],
        "haproxy": ["haproxy", "-db", "-f", str(run_dir / "haproxy.cfg")],
    }
    env = dict(os.environ, TOKIO_WORKER_THREADS="1", RUST_LOG="warn")

    notes = []
    backend = Session("backend", ["nginx", "-p", f"{run_dir}/", "-c",
                                  str(run_dir / "backend-nginx.conf"),
                                  "-e", str(run_dir / "logs" / "backend-error.log")],
                      args.gen_cpu, run_dir / "logs" / "backend.log")
    proxy = None
    try:
        if not wait_ready([f"http://{BACKEND}/"], backend):
            raise SystemExit("the backend nginx did not start; see " + str(run_dir / "logs"))

        def start(target, tag):
            session = Session(target, commands[target], args.proxy_cpu,
                              run_dir / "logs" / f"{tag}.log", env=env)
            if not wait_ready([f"http://{HTTP}/", f"https://{HTTPS}/"], session):
                session.stop()
                return None
            return session

        # Preflight: each proxy answers both bodies, HTTPS/1.1 and HTTP/2.
        ok = []
        for target in targets:
            proxy = start(target, f"{target}-preflight")
            if proxy is None:
                notes.append(f"{target} skipped: it did not become ready")
                continue
            small = curl("-o", "/dev/null", "-w", "%{size_download}", f"http://{HTTP}/")
            big = curl("-o", "/dev/null", "-w", "%{size_download}", f"http://{HTTP}/64k")
            h1 = curl("--http1.1", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", f"https://{HTTPS}/")
            h2 = curl("--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", f"https://{HTTPS}/")
            threads = sum(len(os.listdir(f"/proc/{p}/task")) for p in session_pids(proxy.sid))
            line = f"{target}: body={small}B 64k={big}B https/1.1=[{h1}] h2=[{h2}] threads={threads}"
            log("preflight " + line)
            proxy.stop()
            proxy = None
            if small == str(SMALL_BODY) and big == str(BIG_BODY) and h1 == "200 1.1" and h2 == "200 2":
                ok.append(target)
            else:
                notes.append(f"{target} skipped: preflight failed: {line}")
        if "nginx" not in ok:
            raise SystemExit("nginx failed its preflight; nothing to compare with")

        busy_note = wait_quiet(args)
        if busy_note:
            notes.append(busy_note)
        plan = [(r, s, t) for r in range(1, args.rounds + 1) for s in scenarios for t in ok]
        records = []
        for n, (rnd, scenario, target) in enumerate(plan, 1):
            tag = f"{target}-{scenario}-r{rnd}"
            proxy = start(target, tag)
            if proxy is None:
                notes.append(f"{tag}: {target} did not start")
                continue
            run_load(scenario, args.warmup, args, run_dir / "out" / f"{tag}.warmup.txt")
            t0, p0, g0 = session_ticks(proxy.sid), cpu_times(args.proxy_cpu), cpu_times(args.gen_cpu)
            w0 = time.monotonic()
            h2log = run_dir / "out" / f"{tag}.h2log" if scenario == "e" else None
            result = run_load(scenario, args.duration, args, run_dir / "out" / f"{tag}.txt", h2log)
            wall = time.monotonic() - w0
            t1, p1, g1 = session_ticks(proxy.sid), cpu_times(args.proxy_cpu), cpu_times(args.gen_cpu)
            hwm = session_hwm_kb(proxy.sid)
            proxy.stop()
            proxy = None
            if result is None:
                notes.append(f"{tag}: no result from the load generator (see out/{tag}.txt)")
                continue
            cpu_s = (t1 - t0) / CLK_TCK
            record = dict(
                round=rnd, scenario=scenario, target=target, **result,
                cpu_s=cpu_s, hwm_kb=hwm, wall_s=wall,
                proxy_core_busy=share(p0, p1, 0), gen_core_busy=share(g0, g1, 0),
                proxy_core_steal=share(p0, p1, 1), gen_core_steal=share(g0, g1, 1),
            )
            # CPU used on the proxy's core by anything but the proxy, e.g. another workload.
            foreign = record["proxy_core_busy"] - 100 * cpu_s / wall if wall else 0
            if foreign > 8 or record["proxy_core_steal"] > 5 or record["gen_core_steal"] > 5:
                notes.append(f"{tag} was noisy: other processes used {foreign:.0f}% of the "
                             f"proxy's core; steal {record['proxy_core_steal']:.0f}% / "
                             f"{record['gen_core_steal']:.0f}%")
            records.append(record)
            with open(run_dir / "runs.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            rps = result["requests"] / result["seconds"] if result["seconds"] else 0
            log(f"[{n}/{len(plan)}] round {rnd} {scenario} {target:8} {rps:10.0f} req/s "
                f"p99 {result['p99_ms']:.2f} ms proxy CPU {cpu_s:.2f} s errors {result['errors']}")
    finally:
        if proxy is not None:
            proxy.stop()
        backend.stop()

    sys.path.insert(0, str(BENCH_DIR / "lib"))
    import report

    header = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "versions": versions(args),
        "rounds": args.rounds, "duration": args.duration, "warmup": args.warmup,
        "proxy_cpu": args.proxy_cpu, "gen_cpu": args.gen_cpu, "notes": notes,
    }
    (run_dir / "header.json").write_text(json.dumps(header, indent=2))
    markdown = report.markdown(header, records, SCENARIOS)
    (run_dir / "results.md").write_text(markdown)
    png = run_dir / "req-per-cpu.png"
    plotted = report.plot(records, SCENARIOS, png)
    print(markdown)
    if args.publish:
        report.publish(markdown, png if plotted else None, REPO / "docs")
        log("docs/benchmarks.md and docs/benchmarks-req-per-cpu.png updated")


if __name__ == "__main__":
    main()
