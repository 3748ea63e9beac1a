"""The reck8s command line: setup, render and check."""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reck8s import __version__
from reck8s.check import load_contract, run_rules
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
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("setup", help=t(
        "build the pinned kustomize and fetch the pinned schemas into the cache",
        "构建固定版本的 kustomize 并把固定版本的 schema 获取到缓存"))

    render = commands.add_parser("render", help=t("print the rendered YAML of one environment", "打印一个环境渲染后的 YAML"))
    render.add_argument("environment", help=t("an overlay name, such as dev or prod", "overlay 名称, 例如 dev 或 prod"))

    check = commands.add_parser("check", help=t(
        "render and check environments, kustomization folders or YAML files",
        "渲染并检查环境、kustomization 目录或 YAML 文件"))
    check.add_argument("targets", nargs="*", help=t(
        "environment names or paths (default: every environment)", "环境名称或路径 (默认: 全部环境)"))
    check.add_argument("--format", choices=("table", "json"), default="table", help=t(
        "output format (default: table)", "输出格式 (默认: table)"))
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
            setup(root)
            return 0
        if args.command == "render":
            sys.stdout.write(kustomize_build(load_pins(root), overlay_dir(root, args.environment)))
            return 0
        return _check(root, args.targets, args.format)
    except UsageError as error:
        print(f"reck8s: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
