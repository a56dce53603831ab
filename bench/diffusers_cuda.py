#!/usr/bin/env python3
"""diffusers' own UNet and VAE in fp16 on a CUDA GPU, timed the way sd-bench times ours.

The peer figures for issue 10's ratio: the same configs, random weights, the UNet CFG step
(batch 2) and the VAE decode at the given size, best of --repeat after warm-up, with
diffusers' default attention (PyTorch SDPA). Prints one JSON line.

    python3 bench/diffusers_cuda.py --diffusers-src DIR --config MODEL_DIR --width 512 --height 512

DIR is a diffusers checkout's src/ folder (the package need not be installed); MODEL_DIR is
a diffusers model folder holding unet/config.json and vae/config.json.
"""
import argparse
import json
import sys
import time


def best_seconds(fn, repeat, torch):
    fn()
    fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--diffusers-src", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, args.diffusers_src)

    import torch
    from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel

    dev, dt = torch.device("cuda"), torch.float16
    torch.manual_seed(0)
    unet_cfg = UNet2DConditionModel.load_config(f"{args.config}/unet")
    vae_cfg = AutoencoderKL.load_config(f"{args.config}/vae")
    with dev:  # initialised on the GPU: random init of SDXL's 2.6B parameters on the host takes minutes
        unet = UNet2DConditionModel.from_config(unet_cfg).to(dt).eval()
        vae = AutoencoderKL.from_config(vae_cfg).to(dt).eval()

    h, w = args.height // 8, args.width // 8
    latents = torch.randn(2, unet.config.in_channels, h, w, device=dev, dtype=dt)
    context = torch.randn(2, 77, unet.config.cross_attention_dim, device=dev, dtype=dt)
    t = torch.tensor([500.0, 500.0], device=dev)
    added = None
    if unet.config.addition_embed_type == "text_time":
        # SDXL: pooled text embedding and the six size/crop ids per row.
        pooled = unet.config.projection_class_embeddings_input_dim - 6 * unet.config.addition_time_embed_dim
        added = {"text_embeds": torch.randn(2, pooled, device=dev, dtype=dt),
                 "time_ids": torch.tensor([[args.height, args.width, 0, 0, args.height, args.width]] * 2,
                                          device=dev, dtype=dt)}
    z = torch.randn(1, vae.config.latent_channels, h, w, device=dev, dtype=dt)

    torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode():
        unet_s = best_seconds(lambda: unet(latents, t, encoder_hidden_states=context,
                                           added_cond_kwargs=added), args.repeat, torch)
        vae_s = best_seconds(lambda: vae.decode(z), args.repeat, torch)
        a = torch.randn(8192, 8192, device=dev, dtype=dt)
        matmul_s = best_seconds(lambda: a @ a, args.repeat, torch)
    print(json.dumps({
        "peer": "diffusers", "torch": torch.__version__, "gpu": torch.cuda.get_device_name(),
        "config": args.config, "width": args.width, "height": args.height, "dtype": "f16",
        "unet_cfg_step_s": unet_s, "vae_decode_s": vae_s,
        "peak_vram_mb": torch.cuda.max_memory_allocated() / 2**20,
        "matmul_f16_tflops": 2 * 8192**3 / matmul_s / 1e12,
    }))


if __name__ == "__main__":
    main()
