// Bindings of the CUDA part of the build (compiled only when NEXTRL_WITH_CUDA). Device memory crosses as raw
// pointers (uintptr) that the Python layer checks (dtype, shape, device, contiguity) before passing them.
#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "common/check.h"
#include "cuda/device_cuda.cuh"
#include "cuda/quantum_cuda.h"

namespace py = pybind11;
namespace nc = nextrl::cuda;
namespace q = nextrl::quantum;

namespace {

std::vector<int> CheckedQubits(const char* fn, const std::vector<int>& qubits, int n) {
  uint64_t seen = 0;
  for (int qb : qubits) {
    NEXTRL_CHECK(qb >= 0 && qb < n, std::out_of_range, fn, ": qubit ", qb, " out of range for ", n, " qubits");
    NEXTRL_CHECK(!(seen >> qb & 1), std::invalid_argument, fn, ": qubit ", qb, " appears twice");
    seen |= uint64_t{1} << qb;
  }
  return qubits;
}

// A host array of the state's size and precision (complex64 or complex128, C-contiguous).
void CheckHost(const char* fn, const nc::DeviceState& s, const py::array& a) {
  const bool dtype_ok = s.single() ? a.dtype().is(py::dtype::of<std::complex<float>>())
                                   : a.dtype().is(py::dtype::of<std::complex<double>>());
  NEXTRL_CHECK(dtype_ok, nextrl::TypeMismatch, fn, ": array must have dtype ", s.single() ? "complex64" : "complex128");
  NEXTRL_CHECK(a.ndim() == 1 && a.shape(0) == s.size() && (a.flags() & py::array::c_style), std::invalid_argument, fn,
               ": array must be C-contiguous with shape (", s.size(), ",)");
}

}  // namespace

void BindCuda(py::module_& m) {
  m.def("cuda_device_count", &nc::DeviceCount, "Visible CUDA devices (0 without a driver).");
  m.def(
      "cuda_device_description",
      [](int index) {
        const int count = nc::DeviceCount();
        NEXTRL_CHECK(index >= 0 && index < count, std::out_of_range, "cuda_device_description: index ", index,
                     " out of range for ", count, " devices");
        return nc::DeviceDescription(index);
      },
      py::arg("index") = 0);
  m.def("cuda_memory_info", &nc::MemoryInfo, "(free, total) bytes of the current device.");

  py::class_<nc::DeviceCircuit>(m, "CudaCircuit", "A compiled circuit fused into blocks for the device.")
      .def(py::init<const q::Plan&, int>(), py::arg("plan"), py::arg("max_fused_qubits") = 5)
      .def_property_readonly("num_qubits", &nc::DeviceCircuit::num_qubits)
      .def_property_readonly("num_params", &nc::DeviceCircuit::num_params)
      .def_property_readonly("num_blocks", [](const nc::DeviceCircuit& c) { return c.blocks().size(); })
      .def_property_readonly(
          "blocks",
          [](const nc::DeviceCircuit& c) {
            py::list out;
            for (const nc::DeviceBlock& b : c.blocks())
              out.append(py::make_tuple(b.qubits, b.ops,
                                        b.kind == nc::DeviceBlock::kSingle  ? "single"
                                        : b.kind == nc::DeviceBlock::kDense ? "dense"
                                                                            : "skip"));
            return out;
          },
          "(qubits, ops, kind) of every block, in order.");

  py::class_<nc::DeviceState>(m, "CudaState", "A statevector in device memory (complex64 or complex128).")
      .def(py::init<int, bool>(), py::arg("num_qubits"), py::arg("single"))
      .def_property_readonly("num_qubits", &nc::DeviceState::num_qubits)
      .def_property_readonly("single", &nc::DeviceState::single)
      .def_property_readonly("nbytes", &nc::DeviceState::bytes)
      .def_property_readonly("data_ptr", [](const nc::DeviceState& s) { return reinterpret_cast<uintptr_t>(s.data()); })
      .def("reset", [](nc::DeviceState& s) { s.Reset(); })
      .def(
          "upload",
          [](nc::DeviceState& s, const py::array& a) {
            CheckHost("Statevector (cuda) upload", s, a);
            const void* p = a.data();
            py::gil_scoped_release release;
            s.Upload(p);
          },
          py::arg("array").noconvert())
      .def(
          "download",
          [](const nc::DeviceState& s, py::array& a) {
            CheckHost("Statevector (cuda) download", s, a);
            void* p = a.mutable_data();
            py::gil_scoped_release release;
            s.Download(p);
          },
          py::arg("array").noconvert())
      .def("copy_from",
           [](nc::DeviceState& s, const nc::DeviceState& o) {
             py::gil_scoped_release release;
             s.CopyFrom(o);
           })
      .def(
          "apply",
          [](nc::DeviceState& s, const nc::DeviceCircuit& c,
             py::array_t<double, py::array::c_style | py::array::forcecast> params) {
            NEXTRL_CHECK(params.ndim() == 1 && params.shape(0) == c.num_params(), std::invalid_argument,
                         "Statevector.apply: params must have shape (", c.num_params(), ",)");
            const double* p = params.data();
            py::gil_scoped_release release;
            s.Apply(c, p);
          },
          py::arg("circuit"), py::arg("params"))
      .def(
          "apply_matrix1",
          [](nc::DeviceState& s, int target, py::array_t<std::complex<double>> mat, uint64_t cmask, uint64_t cval,
             bool diagonal) {
            NEXTRL_CHECK(target >= 0 && target < s.num_qubits(), std::out_of_range, "apply_matrix1: qubit ", target,
                         " out of range for ", s.num_qubits(), " qubits");
            NEXTRL_CHECK(mat.size() == 4, std::invalid_argument, "apply_matrix1: matrix must have 4 entries");
            NEXTRL_CHECK(!(cmask >> target & 1) && (cmask >> s.num_qubits()) == 0, std::invalid_argument,
                         "apply_matrix1: controls must be qubits other than the target");
            std::vector<std::complex<double>> m(mat.data(), mat.data() + 4);
            py::gil_scoped_release release;
            s.ApplyMatrix1(target, m.data(), cmask, cval & cmask, diagonal);
          },
          py::arg("target"), py::arg("matrix"), py::arg("cmask") = 0, py::arg("cval") = 0, py::arg("diagonal") = false)
      .def("synchronize",
           [](const nc::DeviceState&) {
             py::gil_scoped_release release;
             nc::Synchronize();
           })
      .def("norm_squared",
           [](const nc::DeviceState& s) {
             py::gil_scoped_release release;
             return s.NormSquared();
           })
      .def(
          "probabilities",
          [](const nc::DeviceState& s, const std::vector<int>& qubits) {
            const std::vector<int> qs = CheckedQubits("probabilities", qubits, s.num_qubits());
            py::array_t<double> out(py::ssize_t{1} << qs.size());
            double* o = out.mutable_data();
            py::gil_scoped_release release;
            s.Probabilities(qs, o);
            return out;
          },
          py::arg("qubits"))
      .def("pauli_expectation",
           [](const nc::DeviceState& s, const std::vector<uint64_t>& x, const std::vector<uint64_t>& z,
              const std::vector<std::complex<double>>& c) {
             NEXTRL_CHECK(x.size() == z.size() && x.size() == c.size(), std::invalid_argument,
                          "pauli_expectation: x, z and coeffs must have the same length");
             const uint64_t limit = (uint64_t{1} << s.num_qubits()) - 1;
             for (size_t t = 0; t < x.size(); ++t)
               NEXTRL_CHECK((x[t] & ~limit) == 0 && (z[t] & ~limit) == 0, std::out_of_range, "pauli_expectation: term ",
                            t, " acts on a qubit >= ", s.num_qubits());
             py::gil_scoped_release release;
             return s.PauliExpectation(x, z, c);
           })
      .def("inner",
           [](const nc::DeviceState& s, const nc::DeviceState& o) {
             py::gil_scoped_release release;
             return s.Inner(o);
           })
      .def(
          "sample",
          [](const nc::DeviceState& s, const std::vector<int>& qubits, int64_t shots, uint64_t seed) {
            const std::vector<int> qs = CheckedQubits("sample", qubits, s.num_qubits());
            NEXTRL_CHECK(shots >= 0, std::invalid_argument, "sample: shots must be >= 0, got ", shots);
            py::array_t<int64_t> out(shots);
            int64_t* o = out.mutable_data();
            py::gil_scoped_release release;
            s.Sample(qs, shots, seed, o);
            return out;
          },
          py::arg("qubits"), py::arg("shots"), py::arg("seed"))
      .def(
          "measure",
          [](nc::DeviceState& s, int qubit, uint64_t seed) {
            NEXTRL_CHECK(qubit >= 0 && qubit < s.num_qubits(), std::out_of_range, "measure: qubit ", qubit,
                         " out of range for ", s.num_qubits(), " qubits");
            py::gil_scoped_release release;
            return s.Measure(qubit, seed);
          },
          py::arg("qubit"), py::arg("seed"));

  py::class_<nc::DeviceBatchPlan>(m, "CudaBatchPlan", "A BatchPlan's circuit on the device (see quantum/cuda.py).")
      .def(py::init<const q::BatchPlan&>(), py::arg("plan"))
      .def_property_readonly("num_qubits", &nc::DeviceBatchPlan::num_qubits)
      .def_property_readonly("num_outputs", &nc::DeviceBatchPlan::num_outputs)
      .def_property_readonly("num_slots", &nc::DeviceBatchPlan::num_slots)
      .def("shared_bytes", &nc::DeviceBatchPlan::SharedBytes, py::arg("single"), py::arg("adjoint"))
      // Pointers are device pointers that quantum/cuda.py checked; g = slot_grad = 0 runs the forward only.
      .def(
          "run",
          [](const nc::DeviceBatchPlan& p, bool single, uintptr_t x, int64_t batch, uintptr_t w, uintptr_t s,
             uintptr_t out, uintptr_t g, uintptr_t slot_grad, uintptr_t stream) {
            NEXTRL_CHECK(batch >= 0, std::invalid_argument, "CudaBatchPlan.run: batch must be >= 0, got ", batch);
            NEXTRL_CHECK((g == 0) == (slot_grad == 0), std::invalid_argument,
                         "CudaBatchPlan.run: g and slot_grad must both be given or both be 0");
            py::gil_scoped_release release;
            if (single)
              p.Run(reinterpret_cast<const float*>(x), batch, reinterpret_cast<const float*>(w),
                    reinterpret_cast<const float*>(s), reinterpret_cast<float*>(out), reinterpret_cast<const float*>(g),
                    reinterpret_cast<float*>(slot_grad), stream);
            else
              p.Run(reinterpret_cast<const double*>(x), batch, reinterpret_cast<const double*>(w),
                    reinterpret_cast<const double*>(s), reinterpret_cast<double*>(out),
                    reinterpret_cast<const double*>(g), reinterpret_cast<double*>(slot_grad), stream);
          },
          py::arg("single"), py::arg("x"), py::arg("batch"), py::arg("w"), py::arg("s"), py::arg("out"), py::arg("g"),
          py::arg("slot_grad"), py::arg("stream"));
}
