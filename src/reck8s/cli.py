"""The reck8s command line: setup, render, check, and the local cluster's up, status and down."""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reck8s import __version__, deploy
from reck8s.check import load_contract, run_rules
from reck8s.cluster import CLUSTER_NAME
from reck8s.errors import UsageError
from reck8s.i18n import t
from reck8s.render import environments, find_root, kustomize_build, load_target, overlay_dir
from reck8s.report import print_json, print_table
from reck8s.schema import SchemaLoadError, SchemaStore
from reck8s.toolchain import load_pins, require_schemas, setup


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
    parser.add_argument("--cluster", default=CLUSTER_NAME, help=t(
        "the local cluster's name, for up, status and down (default: %(default)s)",
        "本地集群的名称, 用于 up、status 和 down (默认: %(default)s)"))
    commands = parser.add_subparsers(dest="command", required=True)

    setup_parser = commands.add_parser("setup", help=t(
        "build the pinned tools and fetch the pinned schemas into the cache",
        "构建固定版本的工具, 并把固定版本的 schema 获取到缓存"))
    setup_parser.add_argument("--check-only", action="store_true", help=t(
        "only what `check` needs: kustomize and the schemas, not the cluster tools",
        "只准备 `check` 需要的内容: kustomize 和 schema, 不构建集群工具"))

    render = commands.add_parser("render", help=t("print the rendered YAML of one environment", "打印一个环境渲染后的 YAML"))
    render.add_argument("environment", help=t("an overlay name, such as dev or prod", "overlay 名称, 例如 dev 或 prod"))

    check = commands.add_parser("check", help=t(
        "render and check environments, kustomization folders or YAML files",
        "渲染并检查环境、kustomization 目录或 YAML 文件"))
    check.add_argument("targets", nargs="*", help=t(
        "environment names or paths (default: every environment)", "环境名称或路径 (默认: 全部环境)"))
    check.add_argument("--format", choices=("table", "json"), default="table", help=t(
        "output format (default: table)", "输出格式 (默认: table)"))
    up = commands.add_parser("up", help=t(
        "start the local cluster if needed, apply environments and wait until they are ready",
        "按需启动本地集群, 应用环境并等待其就绪"))
    up.add_argument("environments", nargs="*", help=t(
        "environment names (default: every environment)", "环境名称 (默认: 全部环境)"))
    up.add_argument("--api-port", type=int, help=t(
        "the kube-apiserver port on 127.0.0.1 (default: a free port)", "kube-apiserver 在 127.0.0.1 上的端口 (默认: 任一空闲端口)"))

    commands.add_parser("status", help=t(
        "print each workload's ready replicas and where its pods run", "打印每个工作负载的就绪副本数及其 Pod 所在位置"))
    commands.add_parser("down", help=t(
        "stop the local cluster and remove everything it left on disk", "停止本地集群并删除它留在磁盘上的所有内容"))
    return parser


def _check(root: Path, targets: list[str], output_format: str) -> int:
    pins = load_pins(root)
    openapi_dir, crd_files = require_schemas(pins)

    try:
        schemas = SchemaStore.load(openapi_dir, crd_files)
    except SchemaLoadError as error:
        raise UsageError(
            t("cannot load the schemas: {error}. Run `make setup` again to restore the cache.",
              "无法加载 schema: {error}。请重新运行 `make setup` 恢复缓存。").format(error=error)
        ) from error
    contract = load_contract(root)

    # Render every target before reporting any, so bad input stops the run
    # early; kustomize runs in its own process, so the renders overlap.
    with ThreadPoolExecutor(max_workers=4) as pool:
        loaded = list(pool.map(lambda target: load_target(pins, root, target), targets or environments(root)))
    reports = [
        run_rules(name, resources, environment=env, contract_=contract if env else None, schemas=schemas)
        for name, resources, env in loaded
    ]

    if output_format == "json":
        print_json(reports, sys.stdout)
    else:
        print_table(reports, sys.stdout)
    return 1 if any(r.errors for r in reports) else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        root = (args.root.resolve() if args.root else find_root())
        if args.command == "setup":
            setup(root, cluster_tools=not args.check_only)
            return 0
        if args.command == "render":
            sys.stdout.write(kustomize_build(load_pins(root), overlay_dir(root, args.environment)))
            return 0
        if args.command == "up":
            return deploy.up(root, args.environments, api_port=args.api_port, name=args.cluster)
        if args.command == "status":
            return deploy.status(root, name=args.cluster)
        if args.command == "down":
            return deploy.down(root, name=args.cluster)
        return _check(root, args.targets, args.format)
    except UsageError as error:
        print(f"reck8s: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
