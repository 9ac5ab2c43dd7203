"""The torch.autograd.Function of a QuantumLayer on a QiskitExecutor: forward submits one job holding the
unshifted and (when a gradient is wanted) the parameter-shifted rows; backward only contracts them."""

from __future__ import annotations

import numpy as np
import torch

from nextrl.quantum.backends.gradients import chain_rule

__all__ = ["QiskitLayerFunction"]


class QiskitLayerFunction(torch.autograd.Function):
    """inputs [B, F], weights [W], scales [S] -> outputs [B, A] on a QiskitExecutor."""

    @staticmethod
    def forward(ctx, inputs, weights, scales, executor, vc, needs, fn: str):
        # needs: (inputs, weights, scales) need a gradient (autograd's needs_input_grad ignores no_grad mode).
        x, w, s = executor._arrays(
            fn,
            vc,
            inputs.detach().to("cpu", torch.float64).numpy(),
            weights.detach().to("cpu", torch.float64).numpy(),
            scales.detach().to("cpu", torch.float64).numpy(),
        )
        prog = executor.program(vc)
        need_x, need_w, need_s = needs
        slot_kind = prog.slot_kind[prog.occ_slot]
        shift = ((slot_kind == 0) & need_w) | ((slot_kind == 1) & need_x) | ((slot_kind == 2) & (need_x or need_s))
        out, d_theta = executor.run_batch(vc, x, w, s, shift if shift.any() else None)
        ctx.prog = prog
        ctx.arrays = (x, w, s, d_theta)
        ctx.meta = (inputs.dtype, inputs.device, weights.dtype, weights.device, scales.dtype, scales.device)
        # np.array copies: a Sampler's probabilities arrive as a read-only broadcast view, which torch must not wrap
        return torch.from_numpy(np.array(out, dtype=np.float64)).to(device=inputs.device, dtype=inputs.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        x, w, s, d_theta = ctx.arrays
        x_dtype, x_dev, w_dtype, w_dev, s_dtype, s_dev = ctx.meta
        if d_theta is None:
            return None, None, None, None, None, None, None
        g = grad_out.detach().to("cpu", torch.float64).numpy()
        dw, dx, ds = chain_rule(ctx.prog, x, s, len(w), np.einsum("bka,ba->bk", d_theta, g))
        need_x, need_w, need_s = ctx.needs_input_grad[:3]
        return (
            torch.from_numpy(dx).to(device=x_dev, dtype=x_dtype) if need_x else None,
            torch.from_numpy(dw).to(device=w_dev, dtype=w_dtype) if need_w else None,
            torch.from_numpy(ds).to(device=s_dev, dtype=s_dtype) if need_s else None,
            None,
            None,
            None,
            None,
        )
