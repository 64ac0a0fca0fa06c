"""Reading the OpenAPI documents and checking real replies against them.

``Checker.call`` sends one request for a documented operation and checks the
reply: its status is one the operation lists, the headers that response
requires are there (and match their schemas), and its body validates against
the documented schema (JSON Schema Draft 2020-12, ``$ref`` resolved within the
document). It records which statuses each operation has shown, so a test can
demand that every documented status was seen.

Two documents: ``docs/openapi.json`` (the reference dialect; the module-level
functions read it) and ``docs/openapi-terminal.json`` (the terminal dialect,
``TERMINAL``). A ``Spec`` reads one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from fxsocket_async.simulator import Simulator

from .helpers import FULL, Api, Reply

DOCS = Path(__file__).resolve().parents[2] / "docs"
METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")
STREAM = "/v1/stream"
TERMINAL_STREAM = "/terminal/{account_id}/ws"
#: The handshake routes: not counted as REST requests by the simulator.
HANDSHAKES = (STREAM, TERMINAL_STREAM)

Operation = tuple[str, str]  # (METHOD, path template)


def pointer(*parts: str) -> str:
    """A JSON pointer into a document, as a URI fragment (``referencing`` reads
    ``{`` and ``}`` as they are)."""
    return "#" + "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _parts(at: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in at.removeprefix("#/").split("/")]


class Spec:
    """One OpenAPI document: its operations, schemas and reply checks."""

    def __init__(self, name: str) -> None:
        self.path = DOCS / name
        self.document: dict[str, Any] = json.loads(self.path.read_text())
        self.base = f"urn:fxsocket-simulator:{name}"
        self.registry: Registry[Any] = Registry().with_resource(
            self.base, Resource.from_contents(self.document, default_specification=DRAFT202012)
        )

    def operations(self) -> list[Operation]:
        """Every documented (METHOD, path template), sorted."""
        return sorted(
            (method.upper(), path)
            for path, item in self.document["paths"].items()
            for method in item
            if method in METHODS
        )

    def operation(self, method: str, template: str) -> dict[str, Any]:
        return self.document["paths"][template][method.lower()]  # type: ignore[no-any-return]

    def documented_statuses(self, method: str, template: str) -> set[int]:
        return {int(status) for status in self.operation(method, template)["responses"]}

    def methods_of(self, template: str) -> list[str]:
        return sorted(m.upper() for m in self.document["paths"][template] if m in METHODS)

    def lookup(self, ref: str) -> Any:
        """The document's node at a local ``#/...`` reference."""
        node: Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def resolve(self, node: dict[str, Any], at: str) -> tuple[dict[str, Any], str]:
        """Follow OpenAPI Reference Objects; returns the node and its pointer."""
        for _ in range(10):
            if "$ref" not in node:
                return node, at
            at = node["$ref"]
            node = self.lookup(at)
        raise AssertionError(f"a $ref loop at {at}")

    def validate(self, instance: Any, at: str, what: str) -> None:
        """Validate ``instance`` against the schema at pointer ``at`` of the document."""
        validator = Draft202012Validator({"$ref": self.base + at}, registry=self.registry)
        error = best_match(validator.iter_errors(instance))
        if error is not None:
            raise AssertionError(
                f"{what} does not match {at}: {error.message} "
                f"(at {error.json_path}; schema path {'/'.join(map(str, error.schema_path))})"
            )

    def check_response(self, response: dict[str, Any], at: str, reply: Reply, what: str) -> None:
        """``reply`` against one documented Response Object (at pointer ``at``)."""
        response, at = self.resolve(response, at)
        for name, header in response.get("headers", {}).items():
            header, header_at = self.resolve(header, f"{at}/headers/{name}")
            value = reply.headers.get(name)
            if value is None:
                assert not header.get("required"), f"{what}: no {name} header, which is required"
                continue
            self.validate(value, f"{header_at}/schema", f"{what}: header {name}")
        content = response.get("content")
        if content is None:
            assert reply.text == "", f"{what}: a body where none is documented: {reply!r}"
            return
        media = reply.headers.get("Content-Type", "").split(";")[0].strip()
        assert media in content, f"{what}: Content-Type {media!r}, documented {sorted(content)}"
        self.validate(reply.body, pointer(*_parts(at), "content", media, "schema"), what)


REFERENCE = Spec("openapi.json")
TERMINAL = Spec("openapi-terminal.json")

# The reference document, as the module's functions.
DOCUMENT: dict[str, Any] = REFERENCE.document
BASE = REFERENCE.base
REGISTRY = REFERENCE.registry
operations = REFERENCE.operations
operation = REFERENCE.operation
documented_statuses = REFERENCE.documented_statuses
methods_of = REFERENCE.methods_of
lookup = REFERENCE.lookup
resolve = REFERENCE.resolve
validate = REFERENCE.validate
check_response = REFERENCE.check_response


class Checker:
    """Sends requests for documented operations and checks every reply."""

    def __init__(self, api: Api, sim: Simulator, key: str = FULL, spec: Spec = REFERENCE) -> None:
        self.api = api
        self.sim = sim
        self.key = key
        self.spec = spec
        self.seen: defaultdict[Operation, set[int]] = defaultdict(set)

    async def call(
        self,
        method: str,
        template: str,
        expect: int,
        *,
        path: dict[str, str] | None = None,
        key: str | None = "",
        **request: Any,
    ) -> Reply:
        """Send ``method template`` (path parameters from ``path``) and check the reply.

        ``key`` defaults to the checker's (``None``: send none). ``request``
        goes to ``Api.request`` (``json_body``, ``data``, ``params``,
        ``headers``, ``auth``). The reply must have status ``expect``.
        """
        key = self.key if key == "" else key
        concrete = template.format(**{k: quote(v, safe="") for k, v in (path or {}).items()})
        route = f"{method} {template}"
        before = self.sim.stats.routes[route]
        reply = await self.api.request(method, concrete, key=key, **request)
        what = f"{method} {concrete} -> {reply.status}"
        if template not in HANDSHAKES:  # the handshake routes are not counted
            assert self.sim.stats.routes[route] == before + 1, f"{what}: not routed to {template}"
        responses = self.spec.operation(method, template)["responses"]
        assert str(reply.status) in responses, (
            f"{what}: status not documented (documented: {sorted(responses)}); {reply!r}"
        )
        self.spec.check_response(
            responses[str(reply.status)],
            pointer("paths", template, method.lower(), "responses", str(reply.status)),
            reply,
            what,
        )
        assert reply.status == expect, f"{what}: expected {expect}; {reply!r}"
        self.seen[(method, template)].add(reply.status)
        return reply

    def check_global(self, name: str, reply: Reply, what: str) -> None:
        """A reply documented once for every path: components/responses/``name``."""
        self.spec.check_response({"$ref": f"#/components/responses/{name}"}, "", reply, what)
