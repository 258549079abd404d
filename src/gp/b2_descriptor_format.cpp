// The B2 descriptor's part of a GP model file: its settings, cutoffs at full precision.

#include "otfgp/core/error.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/model_file.hpp"

namespace otfgp {

namespace {

class B2DescriptorFormat final : public DescriptorFormat {
 public:
  std::string type() const override { return "b2"; }
  void write(const Descriptor& descriptor, const hdf5::Group& group) const override {
    const auto* b2 = dynamic_cast<const B2Descriptor*>(&descriptor);
    if (!b2) throw Error("GP model: the GP's descriptor is not B2 and cannot be written as one");
    write_b2_settings(b2->settings(), group);
  }
  std::shared_ptr<const Descriptor> read(const hdf5::Group& group) const override {
    B2Settings settings = read_b2_settings(group);
    try {
      return std::make_shared<B2Descriptor>(std::move(settings));
    } catch (const Error& error) {
      throw Error(group.file() + ": " + error.what());
    }
  }
};

}  // namespace

const DescriptorFormat& b2_descriptor_format() {
  static const B2DescriptorFormat format;
  return format;
}

}  // namespace otfgp
