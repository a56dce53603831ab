#include "backend/cuda/cublaslt_plan.h"

#include "backend/cuda/check.h"

namespace sd::cuda {

int cublaslt_algorithms(cublasLtHandle_t handle, const CublasLtPlan& plan, uint64_t workspace, uint32_t align_a,
                        uint32_t align_b, uint32_t align_c, uint32_t align_d, int count,
                        cublasLtMatmulHeuristicResult_t* results) {
  cublasLtMatmulPreference_t pref = nullptr;
  SD_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  struct PrefGuard {
    cublasLtMatmulPreference_t p;
    ~PrefGuard() { cublasLtMatmulPreferenceDestroy(p); }
  } guard{pref};
  auto set = [&](cublasLtMatmulPreferenceAttributes_t attr, const void* value, size_t bytes) {
    SD_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, value, bytes));
  };
  set(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof(workspace));
  set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof(align_a));
  set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof(align_b));
  set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c, sizeof(align_c));
  set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d, sizeof(align_d));
  int found = 0;
  SD_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle, plan.desc, plan.a, plan.b, plan.c ? plan.c : plan.d, plan.d,
                                                 pref, count, results, &found));
  return found;
}

}  // namespace sd::cuda
