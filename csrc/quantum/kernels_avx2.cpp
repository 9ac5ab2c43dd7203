// The statevector and batched kernels compiled for one instruction set (flags in CMakeLists.txt).
#define NEXTRL_ISA_NS avx2
#include "quantum/batch.h"
#include "quantum/statevector.h"
