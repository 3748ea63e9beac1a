"""cert-manager rules: certificates cover their hosts, each Secret has one writer, and ACME challenges get through."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reck8s.i18n import t
from reck8s.model import Resource, Severity
from reck8s.rules import Context, Hit, rule

SHIM_ANNOTATIONS = ("cert-manager.io/issuer", "cert-manager.io/cluster-issuer")
EDIT_IN_PLACE = "acme.cert-manager.io/http01-edit-in-place"
NGINX = "nginx.ingress.kubernetes.io/"
# ExternalSecret creation policies under which the operator writes into a Secret that someone else creates.
EXTERNAL_SECRET_SHARED = ("Merge", "None")


def _shim_annotation(ingress: Resource) -> tuple[str, str] | None:
    """Return the ingress-shim annotation of an Ingress and its value, if it has one."""
    for key in SHIM_ANNOTATIONS:
        if ingress.annotations.get(key):
            return key, ingress.annotations[key]
    return None


# certificate-hosts


def _normalize(name: str) -> str:
    return name.strip().lower().rstrip(".")


def covers(dns_name: str, host: str) -> bool:
    """Return whether a certificate DNS name covers a host; a wildcard covers exactly one leftmost label."""
    dns_name, host = _normalize(dns_name), _normalize(host)
    if dns_name == host:
        return True
    if not dns_name.startswith("*."):
        return False
    label, _, parent = host.partition(".")
    return bool(label) and label != "*" and parent == dns_name[2:]


@rule("certificate-hosts", Severity.ERROR, "The Certificate that writes an Ingress TLS secret names every host of the TLS block.")
def certificate_hosts(ctx: Context) -> Iterator[Hit]:
    for ingress in ctx.of_kind("Ingress"):
        certificates = {
            c.spec["secretName"]: c for c in ctx.of_kind("Certificate")
            if c.namespace == ingress.namespace and c.spec.get("secretName")
        }
        for index, tls in enumerate(ingress.spec.get("tls") or []):
            certificate = certificates.get(tls.get("secretName", ""))
            if certificate is None:
                continue
            dns_names = certificate.spec.get("dnsNames") or []
            uncovered = [h for h in tls.get("hosts") or [] if not any(covers(n, h) for n in dns_names)]
            if not uncovered:
                continue
            common_name = certificate.spec.get("commonName")
            note = ""
            if common_name and any(_normalize(common_name) == _normalize(h) for h in uncovered):
                note = t(" The commonName does not count: clients match the host against the DNS names only.",
                         " commonName 不算数: 客户端只用 DNS 名称匹配主机。")
            yield Hit(
                ingress,
                t("tls[{index}] serves {uncovered} with Secret {secret!r}, but the dnsNames of {ref} ({names}) do not "
                  "cover them, so clients get a certificate name mismatch for those hosts.{note}",
                  "tls[{index}] 用 Secret {secret!r} 为 {uncovered} 提供服务, 但 {ref} 的 dnsNames ({names}) 不覆盖它们, "
                  "客户端访问这些主机时会遇到证书名称不匹配。{note}").format(
                    index=index, uncovered=", ".join(uncovered), secret=tls.get("secretName"), ref=certificate.ref(),
                    names=", ".join(dns_names) or "-", note=note),
                t("Add {uncovered} to spec.dnsNames of {ref} (a wildcard such as *.example.com covers one label), "
                  "or serve those hosts from a TLS block whose Certificate names them.",
                  "把 {uncovered} 加入 {ref} 的 spec.dnsNames (*.example.com 这样的通配符只覆盖一级标签), "
                  "或由证书包含这些主机的另一个 TLS 块提供它们。").format(uncovered=", ".join(uncovered), ref=certificate.ref()),
            )


# certificate-duplicate-writer


def _secret_writers(ctx: Context) -> dict[tuple[str, str], list[tuple[Resource, str]]]:
    """Map (namespace, Secret name) to the objects that write that Secret, each with a description for messages."""
    writers: dict[tuple[str, str], list[tuple[Resource, str]]] = {}

    def add(namespace: str, name: str, writer: Resource, description: str) -> None:
        writers.setdefault((namespace, name), []).append((writer, description))

    for secret in ctx.of_kind("Secret"):
        if secret.obj.get("data") or secret.obj.get("stringData"):
            add(secret.namespace, secret.name, secret, secret.ref())
    for external in ctx.of_kind("ExternalSecret"):
        target = external.spec.get("target") or {}
        if target.get("creationPolicy", "Owner") not in EXTERNAL_SECRET_SHARED:
            add(external.namespace, target.get("name") or external.name, external, external.ref())
    for certificate in ctx.of_kind("Certificate"):
        if certificate.spec.get("secretName"):
            add(certificate.namespace, certificate.spec["secretName"], certificate, certificate.ref())
    for ingress in ctx.of_kind("Ingress"):
        shim = _shim_annotation(ingress)
        if shim is None:
            continue
        names = {tls.get("secretName") for tls in ingress.spec.get("tls") or [] if tls.get("secretName")}
        for name in sorted(names):
            add(ingress.namespace, name, ingress, t("{ref} through ingress-shim ({key}: {value})",
                                                    "{ref} (通过 ingress-shim, {key}: {value})").format(
                ref=ingress.ref(), key=shim[0], value=shim[1]))
    return writers


def _duplicate_fix(name: str, writers: list[tuple[Resource, str]]) -> str:
    shims = [w for w, _ in writers if w.kind == "Ingress"]
    certificates = [w for w, _ in writers if w.kind == "Certificate"]
    if shims and certificates:
        keys = sorted({_shim_annotation(i)[0] for i in shims})
        return t("Keep one writer: remove the annotation {keys} from {ingresses} and list the TLS hosts of "
                 "{ingresses} in spec.dnsNames of {certificate}, or delete {certificate} and let ingress-shim write Secret {name!r}.",
                 "只保留一个写入方: 删除 {ingresses} 上的注解 {keys} 并把其 TLS 主机加入 {certificate} 的 spec.dnsNames, "
                 "或删除 {certificate}, 让 ingress-shim 写入 Secret {name!r}。").format(
            keys=", ".join(keys), ingresses=", ".join(i.ref() for i in shims),
            certificate=certificates[0].ref(), name=name)
    if len(certificates) > 1 or len(shims) > 1:
        return t("Keep one Certificate per Secret: merge the dnsNames into one Certificate, or give each its own "
                 "secretName and TLS block.",
                 "每个 Secret 只对应一个 Certificate: 把 dnsNames 合并到一个 Certificate, 或给每个 Certificate 单独的 "
                 "secretName 和 TLS 块。")
    return t("Keep one writer of Secret {name!r} and remove the others, or give each writer its own Secret.",
             "Secret {name!r} 只保留一个写入方并删除其余的, 或给每个写入方单独的 Secret。").format(name=name)


@rule("certificate-duplicate-writer", Severity.ERROR, "Each Secret has one writer: one Certificate, one ingress-shim Ingress or one ExternalSecret.")
def duplicate_writer(ctx: Context) -> Iterator[Hit]:
    for (_, name), writers in sorted(_secret_writers(ctx).items()):
        if len(writers) < 2:
            continue
        reported = writers[-1][0]
        yield Hit(
            reported,
            t("Secret {name!r} has {count} writers: {writers}. They overwrite each other, or cert-manager lets one "
              "Certificate own the Secret and ignores the rest, so the certificate served may lack hosts or come from "
              "the wrong issuer.",
              "Secret {name!r} 有 {count} 个写入方: {writers}。它们会互相覆盖, 或由 cert-manager 只让一个 Certificate "
              "拥有该 Secret 而忽略其余的, 因此提供的证书可能缺少主机或来自错误的签发者。").format(
                name=name, count=len(writers), writers="; ".join(description for _, description in writers)),
            _duplicate_fix(name, writers),
        )


# acme-http01-auth


def _access_control(ingress: Resource) -> list[str]:
    """Return the ingress-nginx annotations of an Ingress that reject an anonymous request from the internet."""
    annotations = ingress.annotations
    found = []
    for key in ("auth-type", "auth-url", "auth-signin", "auth-tls-match-cn"):
        if annotations.get(NGINX + key):
            found.append(f"{NGINX}{key}: {annotations[NGINX + key]}")
    if str(annotations.get(NGINX + "auth-tls-verify-client", "")).lower() == "on":
        found.append(f"{NGINX}auth-tls-verify-client: on")
    for key in ("whitelist-source-range", "allowlist-source-range"):
        ranges = {part.strip() for part in str(annotations.get(NGINX + key, "")).split(",") if part.strip()}
        if ranges and not ranges & {"0.0.0.0/0", "::/0"}:
            found.append(f"{NGINX}{key}: {annotations[NGINX + key]}")
    return found


def _http01_solvers(issuer: Resource) -> Iterator[tuple[int, dict[str, Any]]]:
    for index, solver in enumerate((issuer.spec.get("acme") or {}).get("solvers") or []):
        ingress = (solver.get("http01") or {}).get("ingress")
        if ingress is not None:
            yield index, ingress


def _challenge_consequence() -> str:
    return t("the CA's requests to /.well-known/acme-challenge/ are rejected, so the certificate is never issued",
             "CA 对 /.well-known/acme-challenge/ 的请求会被拒绝, 证书永远不会签发")


@rule("acme-http01-auth", Severity.ERROR, "An ACME HTTP-01 solver does not edit an Ingress that requires authentication.")
def http01_auth(ctx: Context) -> Iterator[Hit]:
    for issuer in ctx.of_kind("Issuer", "ClusterIssuer"):
        for index, solver in _http01_solvers(issuer):
            name = solver.get("name")
            if not name:
                continue
            # An Issuer's challenges are in its own namespace. A ClusterIssuer's are in each Certificate's namespace.
            targets = [
                i for i in ctx.of_kind("Ingress")
                if i.name == name and (issuer.kind == "ClusterIssuer" or i.namespace == issuer.namespace)
            ]
            for ingress in targets:
                blocking = _access_control(ingress)
                if not blocking:
                    continue
                yield Hit(
                    issuer,
                    t("solvers[{index}].http01.ingress.name edits {ref} in place to solve ACME HTTP-01 challenges, but "
                      "that Ingress rejects anonymous requests ({blocking}); {consequence}.",
                      "solvers[{index}].http01.ingress.name 会原地修改 {ref} 来应答 ACME HTTP-01 质询, 但该 Ingress "
                      "拒绝匿名请求 ({blocking}); {consequence}。").format(
                        index=index, ref=ingress.ref(), blocking="; ".join(blocking), consequence=_challenge_consequence()),
                    t("Replace solvers[{index}].http01.ingress.name with ingressClassName, so cert-manager creates its own "
                      "solver Ingress without authentication, or remove the authentication from {ref}.",
                      "把 solvers[{index}].http01.ingress.name 换成 ingressClassName, 让 cert-manager 创建不带认证的"
                      "独立 solver Ingress, 或去掉 {ref} 上的认证。").format(index=index, ref=ingress.ref()),
                )
    yield from _edit_in_place_hits(ctx)


def _edit_in_place_hits(ctx: Context) -> Iterator[Hit]:
    """Report Ingresses that have ingress-shim solve HTTP-01 challenges on themselves while requiring authentication."""
    for ingress in ctx.of_kind("Ingress"):
        shim = _shim_annotation(ingress)
        if shim is None or str(ingress.annotations.get(EDIT_IN_PLACE, "")).lower() != "true":
            continue
        kind = "ClusterIssuer" if shim[0].endswith("cluster-issuer") else "Issuer"
        issuer = ctx.find(kind, shim[1], ingress.namespace if kind == "Issuer" else "")
        if issuer is not None and not any(True for _ in _http01_solvers(issuer)):
            continue  # The issuer solves no HTTP-01 challenges, so the annotation has no effect.
        blocking = _access_control(ingress)
        if not blocking:
            continue
        yield Hit(
            ingress,
            t("{a}: \"true\" makes cert-manager solve ACME HTTP-01 challenges on this Ingress, but it rejects anonymous "
              "requests ({blocking}); {consequence}.",
              "{a}: \"true\" 让 cert-manager 在该 Ingress 上应答 ACME HTTP-01 质询, 但它拒绝匿名请求 ({blocking}); "
              "{consequence}。").format(a=EDIT_IN_PLACE, blocking="; ".join(blocking), consequence=_challenge_consequence()),
            t("Remove the annotation {a}, so cert-manager creates its own solver Ingress without authentication.",
              "删除注解 {a}, 让 cert-manager 创建不带认证的独立 solver Ingress。").format(a=EDIT_IN_PLACE),
        )
