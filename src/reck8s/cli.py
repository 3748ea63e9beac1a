"""The reck8s command line: setup, render, check, and the local cluster's up, status and down."""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from reck8s import __version__, deploy
from reck8s.check import check_targets
from reck8s.cluster import CLUSTER_NAME
from reck8s.errors import UsageError
from reck8s.i18n import t
from reck8s.render import environments, find_root, kustomize_build, render_folder
from reck8s.report import print_json, print_sarif, print_table
from reck8s.toolchain import load_pins, setup


def _CLUSTER_HELP() -> str:
    return t("the local cluster's name, for up, status, down and check --against cluster (default: reck8s)",
             "本地集群的名称, 用于 up、status、down 和 check --against cluster (默认: reck8s)")


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            t("{value!r} is not a TCP port; give a number from 1 to 65535", "{value!r} 不是 TCP 端口; 请给出 1 到 65535 之间的数字").format(value=value)
        )
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reck8s",
        description=t(
            "Render and check the recommendation system's Kubernetes configuration.",
            "渲染并检查推荐系统的 Kubernetes 配置。",
        ),
    )
    parser.add_argument("--version", action="version", version=f"reck8s {__version__}")
    parser.add_argument("--root", type=Path, help=t(
        "the repository root (default: the nearest folder above the current one with devops/interfaces.yaml)",
        "仓库根目录 (默认: 从当前目录向上找到的第一个包含 devops/interfaces.yaml 的目录)"))
    parser.add_argument("--cluster", default=CLUSTER_NAME, help=_CLUSTER_HELP())
    commands = parser.add_subparsers(dest="command", required=True)

    # The cluster's name is accepted after the command too (`reck8s status --cluster x`).
    cluster_option = argparse.ArgumentParser(add_help=False)
    cluster_option.add_argument("--cluster", default=argparse.SUPPRESS, help=_CLUSTER_HELP())

    setup_parser = commands.add_parser("setup", help=t(
        "build the pinned tools and fetch the pinned schemas into the cache",
        "构建固定版本的工具, 并把固定版本的 schema 获取到缓存"))
    setup_parser.add_argument("--check-only", action="store_true", help=t(
        "only what `check` needs: kustomize and the schemas, not the cluster tools",
        "只准备 `check` 需要的内容: kustomize 和 schema, 不构建集群工具"))

    render = commands.add_parser("render", help=t(
        "print the rendered YAML of one environment or kustomization folder", "打印一个环境或 kustomization 目录渲染后的 YAML"))
    render.add_argument("environment", help=t(
        "an overlay name, such as dev or prod, or a kustomization folder", "overlay 名称 (例如 dev 或 prod) 或 kustomization 目录"))

    check = commands.add_parser("check", parents=[cluster_option], help=t(
        "render and check environments, kustomization folders or YAML files",
        "渲染并检查环境、kustomization 目录或 YAML 文件"))
    check.add_argument("targets", nargs="*", help=t(
        "environment names or paths (default: every environment)", "环境名称或路径 (默认: 全部环境)"))
    check.add_argument("--against", metavar="REF|cluster", help=t(
        "also compare workload selectors with a git ref (for example main or HEAD~1) or with the running local cluster",
        "同时与某个 git 引用 (例如 main 或 HEAD~1) 或正在运行的本地集群比较工作负载选择器"))
    check.add_argument("--format", choices=("table", "json", "sarif"), default="table", help=t(
        "output format: a table for people, JSON (one object per finding) or SARIF 2.1.0 for code scanning (default: table)",
        "输出格式: 给人看的表格、JSON (每个问题一个对象) 或用于代码扫描的 SARIF 2.1.0 (默认: table)"))
    up = commands.add_parser("up", parents=[cluster_option], help=t(
        "start the local cluster if needed, apply environments and wait until they are ready",
        "按需启动本地集群, 应用环境并等待其就绪"))
    up.add_argument("environments", nargs="*", help=t(
        "environment names (default: every environment)", "环境名称 (默认: 全部环境)"))
    up.add_argument("--api-port", type=_port, help=t(
        "the kube-apiserver port on 127.0.0.1 (default: a free port)", "kube-apiserver 在 127.0.0.1 上的端口 (默认: 任一空闲端口)"))

    commands.add_parser("status", parents=[cluster_option], help=t(
        "print each workload's ready replicas and where its pods run", "打印每个工作负载的就绪副本数及其 Pod 所在位置"))
    commands.add_parser("down", parents=[cluster_option], help=t(
        "stop the local cluster and remove everything it left on disk", "停止本地集群并删除它留在磁盘上的所有内容"))
    return parser


def _check(root: Path, targets: list[str], output_format: str, against: str | None, cluster_name: str) -> int:
    pins = load_pins(root)
    cluster = deploy.open_cluster(root, cluster_name) if against == "cluster" else None
    reports = check_targets(pins, root, targets or environments(root), against=against, cluster=cluster)

    if output_format == "json":
        print_json(reports, sys.stdout)
    elif output_format == "sarif":
        print_sarif(reports, sys.stdout, root)
    else:
        print_table(reports, sys.stdout)
    return 1 if any(r.errors for r in reports) else 0


def main(argv: list[str] | None = None) -> int:
    # Die quietly like other Unix tools when the reader of stdout goes away (`| head`).
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = _parser().parse_args(argv)
    try:
        root = (args.root.resolve() if args.root else find_root())
        if args.command == "setup":
            setup(root, cluster_tools=not args.check_only)
            return 0
        if args.command == "render":
            sys.stdout.write(kustomize_build(load_pins(root), render_folder(root, args.environment)))
            return 0
        if args.command == "up":
            return deploy.up(root, args.environments, api_port=args.api_port, name=args.cluster)
        if args.command == "status":
            return deploy.status(root, name=args.cluster)
        if args.command == "down":
            return deploy.down(root, name=args.cluster)
        return _check(root, args.targets, args.format, args.against, args.cluster)
    except UsageError as error:
        print(f"reck8s: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
