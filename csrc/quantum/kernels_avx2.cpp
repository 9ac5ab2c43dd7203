// The block kernels compiled for one instruction set (flags set in CMakeLists.txt).
#define NEXTRL_ISA_NS avx2
#include "quantum/statevector.h"
