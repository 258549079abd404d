#include "otfgp/otf/otf_plots.hpp"

#include <fstream>
#include <sstream>

#include "otfgp/core/gnuplot.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/potentials/evaluate.hpp"

namespace otfgp::otf {

namespace {

std::string quoted(const std::filesystem::path& path) {
  return "'" + std::filesystem::absolute(path).string() + "'";
}

int data_rows(const std::filesystem::path& csv) {
  std::ifstream input(csv);
  std::string line;
  int rows = -1;  // the header
  while (std::getline(input, line))
    if (!line.empty()) ++rows;
  return std::max(rows, 0);
}

}  // namespace

void plot_otf_run(const std::filesystem::path& output, const std::string& std_label,
                  const std::vector<Structure>& parity_frames, Potential& model) {
  const auto uncertainty = output / "uncertainty.csv", calls = output / "calls.csv",
             held_out = output / "held_out.csv";
  if (data_rows(uncertainty) > 0) {
    GnuplotJob job;
    job.script() << "set datafile separator ','\nset key top right\nset xlabel 'MD step'\n"
                 << "set ylabel '" << std_label << "'\nset logscale y\nset grid\n"
                 << "plot " << quoted(uncertainty)
                 << " every ::1 using 3:7 with lines lc rgb '#1f77b4' title 'max std', "
                 << quoted(uncertainty)
                 << " every ::1 using 3:8 with lines dt 2 lc rgb 'black' title 'threshold', "
                 << quoted(calls)
                 << " every ::1 using 10:(strstrt(strcol(5),'skipped') > 0 ? 1/0 : $4) with points "
                    "pt 7 ps 0.8 "
                    "lc rgb '#d62728' title 'oracle calls'\n";
    job.run(output / "uncertainty.png", "uncertainty");
  }
  const bool with_held_out = data_rows(held_out) > 0;
  if (with_held_out || data_rows(calls) > 1) {
    GnuplotJob job;
    job.script() << "set datafile separator ','\nset xlabel 'oracle calls'\n"
                 << "set ylabel 'force error (eV/Å)'\nset grid\nset key top right\n"
                 << "set logscale y\nplot " << quoted(calls)
                 << " every ::1 using 1:11 with points pt 6 lc rgb '#d62728' "
                    "title 'RMSE on each new frame before learning it'";
    if (with_held_out)
      job.script() << ", " << quoted(held_out)
                   << " every ::1 using 2:3 with linespoints pt 7 lc rgb '#1f77b4' "
                      "title 'held-out MAE'";
    job.script() << "\n";
    job.run(output / "learning.png", "learning curve");
  }
  if (!parity_frames.empty()) {
    std::ostringstream points;
    for (const Structure& frame : parity_frames) {
      if (!frame.forces) continue;
      const Evaluation e = evaluate(model, frame);
      for (int i = 0; i < frame.size(); ++i)
        for (int d = 0; d < 3; ++d)
          points << (*frame.forces)(i, d) << " " << e.forces(i, d) << "\n";
    }
    GnuplotJob job;
    job.size(650, 650);
    const std::string data = job.data("parity.dat", points.str());
    job.script() << "set xlabel 'reference force component (eV/Å)'\n"
                 << "set ylabel 'GP force component (eV/Å)'\nset grid\nset key top left\n"
                 << "set size square\nplot " << data
                 << " using 1:2 with points pt 7 ps 0.4 title 'components', x with lines lc rgb "
                    "'black' title 'y = x'\n";
    job.run(output / "parity.png", "force parity");
  }
}

}  // namespace otfgp::otf
