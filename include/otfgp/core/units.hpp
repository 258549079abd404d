#pragma once
// Unit constants. Internal units: eV, Å, fs, amu, K; pressure eV/Å³ inside,
// GPa at the interfaces.

namespace otfgp::units {

inline constexpr double boltzmann = 8.617333262e-5;       // eV/K
inline constexpr double ev_per_a3_in_gpa = 160.21766208;  // 1 eV/Å³ in GPa
inline constexpr double gpa_in_ev_per_a3 = 1.0 / ev_per_a3_in_gpa;
// 1 amu·Å²/fs² in eV (1.66053906660e-17 J / 1.602176634e-19 J/eV).
inline constexpr double amu_a2_per_fs2_in_ev = 103.642696527;
inline constexpr double pi = 3.14159265358979323846;

}  // namespace otfgp::units
