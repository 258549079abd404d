# Cross-check for tests/test_hull.cpp: reads sets of entries (JSON file named
# by the first argument:
# {"sets": [{"references": [...], "pressure_gpa": P, "entries": [...]}]}), builds
# pymatgen's PhaseDiagram (elemental references) or CompoundPhaseDiagram
# (terminal compounds, normalised to one atom) from H = E + PV, and prints
# e_above_hull, decomposition (atom fractions) and stability per entry id.
import json
import sys

from pymatgen.analysis.phase_diagram import CompoundPhaseDiagram, PDEntry, PhaseDiagram
from pymatgen.core import Composition

EV_PER_A3_IN_GPA = 160.21766208


def analyse(data):
    pressure = data.get("pressure_gpa", 0.0) / EV_PER_A3_IN_GPA
    entries = []
    for item in data["entries"]:
        composition = Composition(item["composition"])
        enthalpy_per_atom = item["energy_per_atom"] + pressure * item.get("volume_per_atom", 0.0)
        entries.append(
            PDEntry(composition, enthalpy_per_atom * composition.num_atoms, name=item["id"], attribute=item["id"])
        )

    if data["references"]:
        terminals = [Composition(formula) for formula in data["references"]]
        diagram = CompoundPhaseDiagram(entries, terminals, normalize_terminal_compositions=True)

        def original(entry):
            return entry.original_entry

    else:
        diagram = PhaseDiagram(entries)

        def original(entry):
            return entry

    stable = {original(entry).attribute for entry in diagram.stable_entries}
    result = {}
    for entry in diagram.all_entries:
        decomposition, e_above_hull = diagram.get_decomp_and_e_above_hull(entry)
        identifier = original(entry).attribute
        result[identifier] = {
            "e_above_hull": e_above_hull,
            "decomposition": {original(part).attribute: amount for part, amount in decomposition.items()},
            "stable": identifier in stable,
        }
    return {"entries": result}


with open(sys.argv[1]) as stream:
    sets = json.load(stream)["sets"]
json.dump({"sets": [analyse(data) for data in sets]}, sys.stdout)
