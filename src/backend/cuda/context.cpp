#include "backend/cuda/context.h"

#include "backend/cuda/check.h"

namespace sd::cuda {

Context::Context(int index) : info_(open_device(index)) {
  SD_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  pool_ = std::make_unique<DevicePool>(index);
}

Context::~Context() {
  if (stream_) cudaStreamSynchronize(stream_);
  workspace_.reset();
  if (cudnn_) cudnnDestroy(cudnn_);
  if (cublaslt_) cublasLtDestroy(cublaslt_);
  if (stream_) cudaStreamSynchronize(stream_);
  pool_.reset();
  if (stream_) cudaStreamDestroy(stream_);
}

cublasLtHandle_t Context::cublaslt() {
  if (!cublaslt_) SD_CUBLAS_CHECK(cublasLtCreate(&cublaslt_));
  return cublaslt_;
}

cudnnHandle_t Context::cudnn() {
  if (!cudnn_) {
    SD_CUDNN_CHECK(cudnnCreate(&cudnn_));
    SD_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  }
  return cudnn_;
}

void* Context::workspace(size_t bytes) {
  if (bytes > workspace_.bytes()) {
    workspace_.reset();  // freed in stream order: earlier users still see valid memory
    workspace_ = buffer(bytes);
  }
  return workspace_.get();
}

void Context::synchronize() { SD_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

void copy_to_device(Context& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes) SD_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx.stream()));
}

void copy_to_host(Context& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes) SD_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx.stream()));
}

void copy_on_device(Context& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes) SD_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx.stream()));
}

float mean_stream_ms(Context& ctx, const std::function<void()>& run, int reps) {
  run();
  cudaEvent_t start, stop;
  SD_CUDA_CHECK(cudaEventCreate(&start));
  SD_CUDA_CHECK(cudaEventCreate(&stop));
  SD_CUDA_CHECK(cudaEventRecord(start, ctx.stream()));
  for (int i = 0; i < reps; ++i) run();
  SD_CUDA_CHECK(cudaEventRecord(stop, ctx.stream()));
  SD_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  SD_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms / float(reps);
}

}  // namespace sd::cuda
