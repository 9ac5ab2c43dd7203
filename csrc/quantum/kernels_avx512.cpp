// The statevector and batched kernels compiled for one instruction set (flags in CMakeLists.txt).
#define NEXTRL_ISA_NS avx512
#include "quantum/statevector.h"

// After statevector.h: batch.h uses its Runs helpers and is not self-contained.
#include "quantum/batch.h"
