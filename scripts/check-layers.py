#!/usr/bin/env python3
"""Checks that otfgp's layers only reach downwards (docs/architecture.md).

    check-layers.py [ROOT]                 every #include under ROOT's layer folders
    check-layers.py --archives DIR [ROOT]  also the otfgp_<layer> static libraries in DIR:
                                           no symbol a layer needs may come only from a
                                           layer above it

Prints one line per wrong-way include, `file:line: ...`, and exits 1 when
there is any. Standard library only.
"""

import argparse
import os
import re
import subprocess
import sys

# Lowest first. A file may include headers of its own layer and the ones
# before it. Each layer: its header folder and its source folders.
LAYERS = [
    ("core", ["include/otfgp/core", "src/core"]),
    ("potentials", ["include/otfgp/potentials", "potentials"]),
    ("gp", ["include/otfgp/gp", "src/gp"]),
    ("md", ["include/otfgp/md", "md"]),
    ("analysis", ["include/otfgp/analysis", "src/analysis"]),
    ("oracle", ["include/otfgp/oracle", "src/oracle"]),
    ("otf", ["include/otfgp/otf", "src/otf"]),
    ("search", ["include/otfgp/search", "src/search"]),
    ("cli", ["src/cli"]),
    # otfgp-lammps: a second executable beside the CLI (docs/lammps.md).
    ("lammps", ["src/lammps"]),
]
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}
# Files that belong to no layer must not sit where layers live.
LAYER_PARENTS = ["include/otfgp", "src"]
SOURCE_SUFFIXES = (".cpp", ".hpp", ".h", ".cu", ".hpp.in")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def layer_of_path(relative):
    """The layer a file (path relative to the root, '/'-separated) belongs to."""
    for name, folders in LAYERS:
        for folder in folders:
            if relative.startswith(folder + "/"):
                return name
    return None


def layer_of_header(header):
    """The layer of an `otfgp/<layer>/...` include, or None when it names none."""
    parts = header.split("/")
    if len(parts) >= 3 and parts[0] == "otfgp" and parts[1] in RANK:
        return parts[1]
    return None


def source_files(root):
    folders = sorted({folder for _, fs in LAYERS for folder in fs} | set(LAYER_PARENTS))
    seen = set()
    for folder in folders:
        top = os.path.join(root, folder)
        for directory, _, names in os.walk(top):
            for name in sorted(names):
                if name.endswith(SOURCE_SUFFIXES):
                    path = os.path.join(directory, name)
                    if path not in seen:
                        seen.add(path)
                        yield path


def include_problems(root):
    problems = []
    for path in source_files(root):
        relative = os.path.relpath(path, root).replace(os.sep, "/")
        layer = layer_of_path(relative)
        if layer is None:
            problems.append(f"{relative}:1: not in a layer folder ({', '.join(RANK)})")
            continue
        with open(path, encoding="utf-8", errors="replace") as text:
            for number, line in enumerate(text, start=1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                bracket, header = match.groups()
                if header.startswith("otfgp/"):
                    target = layer_of_header(header)
                    if target is None:
                        problems.append(f"{relative}:{number}: includes {header}, "
                                        "which is in no layer folder (otfgp/<layer>/...)")
                        continue
                elif bracket == '"':
                    # A private header beside the file (potentials/pair_loop.hpp).
                    beside = os.path.normpath(os.path.join(os.path.dirname(path), header))
                    if not os.path.isfile(beside):
                        continue
                    target = layer_of_path(os.path.relpath(beside, root).replace(os.sep, "/"))
                    if target is None:
                        continue
                else:
                    continue
                if RANK[target] > RANK[layer]:
                    problems.append(f"{relative}:{number}: {layer} includes {header} "
                                    f"from {target}, a layer above it")
    return problems


def nm_symbols(archive, defined):
    """Mangled symbol → the archive member that defines (or needs) it."""
    flag = "--defined-only" if defined else "--undefined-only"
    output = subprocess.run(["nm", flag, archive], check=True, capture_output=True,
                            text=True).stdout
    symbols = {}
    member = "?"
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 1 and line.endswith(":"):
            member = line[:-1]
        elif defined and len(fields) == 3:
            symbols.setdefault(fields[2], member)
        elif not defined and len(fields) == 2 and fields[0] == "U":
            symbols.setdefault(fields[1], member)
    return symbols


def demangle(symbol):
    try:
        return subprocess.run(["c++filt", symbol], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return symbol


def archive_problems(directory):
    """Symbols a layer's archive uses that only a higher layer's archive defines."""
    archives = {}
    for name, _ in LAYERS:
        path = os.path.join(directory, f"libotfgp_{name}.a")
        if os.path.isfile(path):
            archives[name] = path
    if "core" not in archives:
        return [f"{directory}: no libotfgp_core.a (build the layer libraries first)"]
    defined = {name: nm_symbols(path, True) for name, path in archives.items()}
    problems = []
    for name, path in archives.items():
        below = set()
        for other in archives:
            if RANK[other] <= RANK[name]:
                below |= defined[other].keys()
        for symbol, member in sorted(nm_symbols(path, False).items()):
            if symbol in below:
                continue
            for other in archives:
                if RANK[other] > RANK[name] and symbol in defined[other]:
                    problems.append(f"{os.path.basename(path)}({member}): {name} uses "
                                    f"{demangle(symbol)}, defined only in {other}, a layer above it")
                    break
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=os.path.join(os.path.dirname(__file__), ".."))
    parser.add_argument("--archives", help="folder holding libotfgp_<layer>.a")
    options = parser.parse_args()
    root = os.path.abspath(options.root)
    problems = include_problems(root)
    if options.archives:
        problems += archive_problems(options.archives)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check-layers: {len(problems)} wrong-way dependencies "
              f"(layers, lowest first: {' → '.join(RANK)})", file=sys.stderr)
        return 1
    print(f"check-layers: every include goes downwards ({' → '.join(RANK)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
