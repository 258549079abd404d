#!/usr/bin/env python3
"""Checks that no KOKKOS_LAMBDA sits in a private or protected member function.

    check-device-lambdas.py [ROOT]

nvcc compiles a KOKKOS_LAMBDA as an extended __host__ __device__ lambda, and
it refuses one whose enclosing function is a private or protected member of a
class ("The enclosing parent function ... cannot have private or protected
access within its class"), so such code builds with g++ (Serial, OpenMP) and
fails only in a CUDA build. The rule (docs/gpu.md): kernels live in public
member functions, free functions or functors.

Scans every .hpp/.cpp under ROOT's include/, src/, potentials/ and md/:
collects the access of each member function a class declares, then looks at
every function body (defined in the class or out of line as Class::name) for
KOKKOS_LAMBDA / KOKKOS_CLASS_LAMBDA. Prints `file:line: ...` for each one in a
private or protected member function and exits 1 when there is any.
Standard library only.
"""

import os
import re
import sys

FOLDERS = ["include", "src", "potentials", "md"]
SUFFIXES = (".cpp", ".hpp", ".h", ".cu")
LAMBDA = re.compile(r"\bKOKKOS_(?:CLASS_)?LAMBDA\b")
CLASS_HEAD = re.compile(r"\b(class|struct)\s+(?:alignas\s*\([^)]*\)\s*)?(\w+)\b")
ACCESS = re.compile(r"\b(public|private|protected)\s*:(?!:)")
CALLABLE = re.compile(r"(~?\b[A-Za-z_]\w*)\s*\(")
QUALIFIED = re.compile(r"\b(\w+)\s*(?:<[^<>;{}()]*>)?\s*::\s*(~?\w+)\s*\(")
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "decltype", "alignas",
            "static_assert", "noexcept", "operator", "throw", "catch", "explicit", "new",
            "delete", "defined", "alignof", "typeid"}


def strip(text):
    """Comments, string and character literals blanked out; offsets and newlines kept."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c in "\"'":
            if c == "'" and i > 0 and (text[i - 1].isalnum()):  # digit separator 1'000
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            for k in range(i + 1, j - 1):
                if out[k] != "\n":
                    out[k] = " "
            i = j
            continue
        elif c == "#":  # preprocessor line (with continuations)
            j = i
            while True:
                e = text.find("\n", j)
                if e < 0:
                    j = n
                    break
                if text[e - 1] == "\\":
                    j = e + 1
                    continue
                j = e
                break
            if text[:i].rstrip(" \t").endswith("\n") or text[:i].strip() == "":
                for k in range(i, j):
                    if out[k] != "\n":
                        out[k] = " "
            i = max(j, i + 1)
            continue
        else:
            i += 1
            continue
        for k in range(i, j):
            if out[k] != "\n":
                out[k] = " "
        i = j
    return "".join(out)


def match_brace(text, open_at):
    """Index just past the brace that closes text[open_at] ('{')."""
    depth = 0
    for k in range(open_at, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(text)


def match_paren(text, open_at):
    depth = 0
    for k in range(open_at, len(text)):
        if text[k] == "(":
            depth += 1
        elif text[k] == ")":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(text)


def body_after_signature(text, close_paren):
    """The '{' that opens a function body after a parameter list, or -1."""
    k = close_paren
    n = len(text)
    while k < n:
        c = text[k]
        if c == "{":
            return k
        if c in ";,)=" and not text.startswith("= default", k):
            return -1
        if c == ":":  # constructor initialiser list: skip to the body
            depth = 0
            while k < n:
                if text[k] in "({":
                    if text[k] == "{" and depth == 0 and re.search(r"[)}]\s*$", text[:k]):
                        return k
                    depth += 1
                elif text[k] in ")}":
                    depth -= 1
                elif text[k] == ";" and depth == 0:
                    return -1
                k += 1
            return -1
        if c == "(":  # noexcept(...) and the like
            k = match_paren(text, k)
            continue
        k += 1
    return -1


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def scan_class(text, head, access_of, findings, path):
    """Members of one class body: their access; in-class bodies checked at once."""
    kind, name = head.group(1), head.group(2)
    brace = text.find("{", head.end())
    semi = text.find(";", head.end())
    if brace < 0 or (0 <= semi < brace):
        return  # a declaration, not a definition
    # `class X : public Y {` — the head must reach the brace without another statement.
    between = text[head.end():brace]
    if "(" in between or ")" in between or "=" in between:
        return  # e.g. `struct X x = {...}` or an elaborated type in a call
    end = match_brace(text, brace)
    access = "private" if kind == "class" else "public"
    k = brace + 1
    while k < end - 1:
        c = text[k]
        if c == "{":  # a nested class or an aggregate initialiser: skip
            k = match_brace(text, k)
            continue
        m = ACCESS.match(text, k)
        if m:
            access = m.group(1)
            k = m.end()
            continue
        m = CALLABLE.match(text, k)
        if m and (k == 0 or not (text[k - 1].isalnum() or text[k - 1] in "_:")):
            member = m.group(1)
            close = match_paren(text, m.end() - 1)
            if member not in KEYWORDS and member.lstrip("~") != "":
                access_of.setdefault((name, member), set()).add(access)
                body = body_after_signature(text, close)
                if body >= 0:
                    body_end = match_brace(text, body)
                    if access != "public":
                        for lam in LAMBDA.finditer(text, body, body_end):
                            findings.append((path, line_of(text, lam.start()),
                                             f"KOKKOS_LAMBDA in {access} member function "
                                             f"{name}::{member} (nvcc refuses it; "
                                             "see docs/gpu.md)"))
                    k = body_end
                    continue
            k = close
            continue
        k += 1


def scan(root):
    files = []
    for folder in FOLDERS:
        for base, _, names in os.walk(os.path.join(root, folder)):
            for name in sorted(names):
                if name.endswith(SUFFIXES):
                    files.append(os.path.join(base, name))
    stripped = {}
    for path in sorted(files):
        with open(path, encoding="utf-8", errors="replace") as handle:
            stripped[path] = strip(handle.read())
    access_of, findings = {}, []
    for path, text in stripped.items():
        for head in CLASS_HEAD.finditer(text):
            if text[:head.start()].rstrip().endswith(("enum", "friend", "<", ",")):
                continue
            scan_class(text, head, access_of, findings, path)
    # Out-of-line definitions: Class::member(...) { ... }.
    for path, text in stripped.items():
        for m in QUALIFIED.finditer(text):
            cls, member = m.group(1), m.group(2)
            accesses = access_of.get((cls, member))
            if not accesses or "public" in accesses:
                continue
            close = match_paren(text, m.end() - 1)
            body = body_after_signature(text, close)
            if body < 0:
                continue
            body_end = match_brace(text, body)
            access = "protected" if accesses == {"protected"} else "private"
            for lam in LAMBDA.finditer(text, body, body_end):
                findings.append((path, line_of(text, lam.start()),
                                 f"KOKKOS_LAMBDA in {access} member function {cls}::{member} "
                                 "(nvcc refuses it; see docs/gpu.md)"))
    return sorted(set(findings))


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    root = os.path.abspath(root)
    findings = scan(root)
    for path, line, message in findings:
        print(f"{os.path.relpath(path, root)}:{line}: {message}")
    if findings:
        print(f"{len(findings)} KOKKOS_LAMBDA(s) in private/protected member functions",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
