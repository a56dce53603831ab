#include "pipeline/text_conditioning.h"

#include <algorithm>

#include "core/error.h"
#include "ops/ops.h"
#include "text/prompt_chunks.h"

namespace sd::pipeline {

namespace {

using text::PromptChunk;

struct Encoded {
  Tensor hidden;  // [1, 77*chunks, C]
  Tensor pooled;  // [1, P] from the first chunk (SDXL)
};

Tensor ids_tensor(const PromptChunk& chunk) {
  return Tensor::copy_of(chunk.ids.data(), {1, int64_t(chunk.ids.size())}, DType::I32);
}

// A1111's emphasis: scale each token's embedding by its weight, then restore the chunk's
// original mean so the overall magnitude stays what the UNet was trained on.
void apply_weights(Tensor& z, const std::vector<float>& weights) {
  if (std::all_of(weights.begin(), weights.end(), [](float w) { return w == 1.0f; })) return;
  z = z.contiguous().clone();
  const int64_t L = z.size(1), C = z.size(2);
  float* p = z.data<float>();
  double before = 0, after = 0;
  for (int64_t i = 0; i < L * C; ++i) before += p[i];
  for (int64_t t = 0; t < L; ++t)
    for (int64_t c = 0; c < C; ++c) p[t * C + c] *= weights[size_t(t)];
  for (int64_t i = 0; i < L * C; ++i) after += p[i];
  if (after == 0) return;
  const float k = float(before / after);
  for (int64_t i = 0; i < L * C; ++i) p[i] *= k;
}

// The hidden state the family conditions on, from one chunk's encoder output.
// Conditioning is small and its emphasis math is diffusers-parity host code: the results
// come to the host whatever device the encoder runs on.
Tensor chunk_hidden(const models::ClipTextModel& enc, const models::ClipTextOutput& out, Family family,
                    int clip_skip, Tensor* pooled) {
  const int n = int(out.hidden_states.size());
  SD_CHECK(clip_skip >= 1 && clip_skip < n, "clip_skip " + std::to_string(clip_skip) + " out of range for a " +
                                                std::to_string(n - 1) + "-layer text encoder");
  if (pooled) *pooled = (out.text_embeds.defined() ? out.text_embeds : out.pooled_output).to(Device::cpu());
  if (family == Family::SDXL) return out.hidden_states[size_t(n - 1 - clip_skip)].to(Device::cpu());  // penultimate, no final LN
  if (clip_skip == 1) return out.last_hidden_state.to(Device::cpu());
  return enc.final_layer_norm(out.hidden_states[size_t(n - clip_skip)]).to(Device::cpu());
}

// Each row's chunks through one encoder, all in one call (an encoder that streams its
// layers reads them once per job, not once per chunk); the pooled output is the first
// chunk's.
std::vector<Encoded> encode_rows(const models::ClipTextModel& enc, const Tensor& added_tokens,
                                 const std::vector<const std::vector<PromptChunk>*>& rows, Family family,
                                 int clip_skip, bool want_pooled) {
  std::vector<Tensor> ids;
  for (const auto* chunks : rows)
    for (const PromptChunk& chunk : *chunks) ids.push_back(ids_tensor(chunk));
  const std::vector<models::ClipTextOutput> outs = enc.forward_each(ids, added_tokens);
  std::vector<Encoded> encoded;
  size_t next = 0;
  for (const auto* chunks : rows) {
    Encoded e;
    std::vector<Tensor> parts;
    for (size_t i = 0; i < chunks->size(); ++i) {
      Tensor h = chunk_hidden(enc, outs[next++], family, clip_skip, want_pooled && i == 0 ? &e.pooled : nullptr);
      apply_weights(h, (*chunks)[i].weights);
      parts.push_back(h);
    }
    e.hidden = parts.size() == 1 ? parts[0] : ops::concat(parts, 1);
    encoded.push_back(std::move(e));
  }
  return encoded;
}

// Pads the shorter list with empty-prompt chunks so both rows have the same length.
void equalize(std::vector<PromptChunk>& a, std::vector<PromptChunk>& b, const text::ClipTokenizer& tok) {
  const PromptChunk empty = text::tokenize_prompt(tok, "").front();
  while (a.size() < b.size()) a.push_back(empty);
  while (b.size() < a.size()) b.push_back(empty);
}

}  // namespace

Conditioning encode_prompts(const ModelSet& m, const std::string& prompt, const std::string& negative_prompt,
                            int clip_skip, bool classifier_free_guidance, const TextualInversions& ti) {
  const bool xl = m.version.family == Family::SDXL;
  const auto& subst1 = ti.encoder(0).substitutions;
  auto pos1 = text::tokenize_weighted_prompt(*m.tokenizer, prompt, subst1);
  auto neg1 = text::tokenize_weighted_prompt(*m.tokenizer, negative_prompt, subst1);
  std::vector<PromptChunk> pos2, neg2;
  if (xl) {
    const auto& subst2 = ti.encoder(1).substitutions;
    pos2 = text::tokenize_weighted_prompt(*m.tokenizer_2, prompt, subst2);
    neg2 = text::tokenize_weighted_prompt(*m.tokenizer_2, negative_prompt, subst2);
    // Both encoders must see the same number of chunks to concatenate their states.
    equalize(pos1, pos2, *m.tokenizer);
    equalize(neg1, neg2, *m.tokenizer);
    equalize(pos2, pos1, *m.tokenizer_2);
    equalize(neg2, neg1, *m.tokenizer_2);
  }
  if (classifier_free_guidance) {
    equalize(pos1, neg1, *m.tokenizer);
    if (xl) equalize(pos2, neg2, *m.tokenizer_2);
  }

  // SDXL conditions on zeros, not on the encoding of "", for an empty negative prompt.
  const bool zero_uncond = xl && negative_prompt.empty() && m.force_zeros_for_empty_prompt;
  const bool encode_uncond = classifier_free_guidance && !zero_uncond;
  std::vector<const std::vector<PromptChunk>*> rows1{&pos1}, rows2{&pos2};
  if (encode_uncond) {
    rows1.push_back(&neg1);
    rows2.push_back(&neg2);
  }
  const Family fam = m.version.family;
  std::vector<Encoded> rows = encode_rows(*m.text_encoder, ti.encoder(0).added_tokens, rows1, fam, clip_skip, false);
  if (xl) {
    const std::vector<Encoded> rows_2 =
        encode_rows(*m.text_encoder_2, ti.encoder(1).added_tokens, rows2, fam, clip_skip, true);
    for (size_t r = 0; r < rows.size(); ++r)
      rows[r] = {ops::concat({rows[r].hidden, rows_2[r].hidden}, 2), rows_2[r].pooled};
  }
  const Encoded& cond = rows[0];
  Conditioning out;
  if (!classifier_free_guidance) {
    out.context = cond.hidden;
    out.pooled = cond.pooled;
    return out;
  }
  Encoded uncond;
  if (zero_uncond) {
    uncond.hidden = Tensor::zeros(cond.hidden.shape(), DType::F32);
    uncond.pooled = Tensor::zeros(cond.pooled.shape(), DType::F32);
  } else {
    uncond = rows[1];
  }
  out.context = ops::concat({uncond.hidden, cond.hidden}, 0);
  if (xl) out.pooled = ops::concat({uncond.pooled, cond.pooled}, 0);
  return out;
}

}  // namespace sd::pipeline
