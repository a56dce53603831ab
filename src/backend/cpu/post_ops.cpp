#include "backend/cpu/post_ops.h"

namespace sd::cpu {

dnnl::primitive_attr post_ops_attr(Act act, const dnnl::memory::desc* res_md) {
  dnnl::post_ops po;
  using alg = dnnl::algorithm;
  switch (act) {
    case Act::None: break;
    case Act::SiLU: po.append_eltwise(1.f, alg::eltwise_swish, 1.f, 0.f); break;
    case Act::GELU: po.append_eltwise(1.f, alg::eltwise_gelu_erf, 0.f, 0.f); break;
    case Act::QuickGELU: po.append_eltwise(1.f, alg::eltwise_swish, 1.702f, 0.f); break;
    case Act::ReLU: po.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f); break;
    case Act::Tanh: po.append_eltwise(1.f, alg::eltwise_tanh, 0.f, 0.f); break;
  }
  if (res_md) po.append_binary(alg::binary_add, *res_md);
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  return attr;
}

int residual_arg(Act act) {
  const int index = act == Act::None ? 0 : 1;
  return DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1;
}

}  // namespace sd::cpu
