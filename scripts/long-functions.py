#!/usr/bin/env python3
"""Lists functions longer than a limit (default 80 lines) in C++ sources.

A rough brace matcher, not a parser: a function is a top-level brace block
whose opening line ends a parameter list; lambdas, control blocks and
kernels inside it count towards it. Use it to find candidates to split
(issue 7: none over ~80 lines unless it is one kernel).
  scripts/long-functions.py [--limit N] DIR...   (e.g. src md potentials include)
"""
import argparse
import os
import re


def scan(path, limit):
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    found, stack, previous = [], [], ""
    for n, line in enumerate(lines):
        text = re.sub(r"//.*", "", line)
        text = re.sub(r'"([^"\\]|\\.)*"', '""', text)
        text = re.sub(r"'(\\.|[^'\\])'", "''", text)
        for position, ch in enumerate(text):
            if ch == "{":
                context = (previous + " " + text[:position]).strip()
                head = context.split("{")[0]
                is_function = (
                    re.search(r"\)\s*(const)?\s*(override)?\s*(noexcept)?\s*(->\s*[\w:<>&*, ]+)?\s*(:.*)?$", head)
                    and not re.search(r"\b(if|for|while|switch|catch)\b\s*\(", context)
                    and not re.search(r"\[.*\]\s*\(", context)
                    and "KOKKOS_LAMBDA" not in context
                    and not any(kind == "function" for kind, _, _ in stack))
                stack.append(("function" if is_function else "block", n, context[-100:]))
            elif ch == "}" and stack:
                kind, start, name = stack.pop()
                if kind == "function" and n - start + 1 > limit:
                    found.append((n - start + 1, path, start + 1, name))
        if text.strip():
            previous = text
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("dirs", nargs="+")
    args = parser.parse_args()
    found = []
    for top in args.dirs:
        for folder, _, files in os.walk(top):
            for name in files:
                if name.endswith((".cpp", ".hpp")):
                    found += scan(os.path.join(folder, name), args.limit)
    for length, path, line, _ in sorted(found, reverse=True):
        print(f"{length:4d} lines  {path}:{line}")


if __name__ == "__main__":
    main()
