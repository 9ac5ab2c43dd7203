// The block kernels compiled for one instruction set (flags set in CMakeLists.txt).
#define NEXTRL_ISA_NS avx512
#include "quantum/statevector.h"
