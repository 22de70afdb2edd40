// test_ring_abi.cpp — test_ring_abi.c compiled as C++ (one source, so the
// C and C++ checks cannot drift apart).
#include "test_ring_abi.c"
