# amaranth: UnusedElaboratable=no
"""How a host runs a loaded network on the accelerator: ``program.json``'s ``run``.

Everything here is read from the RTL and the configuration, never restated:
the ports and their widths (:func:`circnn.verilog.verilog_ports` of the
:class:`~circnn.rtl.accelerator.Accelerator`), the stream payloads' bit
fields (their Amaranth layouts), the registers (:class:`HostRegister`), the
STATUS bits (:data:`STATUS_LAYOUT`), the read latency
(:data:`~circnn.rtl.host_bus.READ_LATENCY`) and, from the laid-out network
(:class:`~circnn.sim.model.accelerator.NetworkImage`), the first and last
descriptors' sizes.  ``docs/build.md`` explains the steps; ``docs/registers.md``
the registers.  (The accelerator is made for its signature and layouts only,
never elaborated: the first line tells Amaranth not to warn about it.)
"""

from __future__ import annotations

from .config import STATUS_LAYOUT, HostRegister, LayerKind, NetworkConfig
from .rtl.accelerator import Accelerator
from .rtl.host_bus import READ_LATENCY
from .sim.model.fixedpoint import FixedFormat
from .verilog import verilog_ports

__all__ = ["run_protocol", "accelerator_ports"]


def _fields(layout) -> dict:
    """A struct layout's fields as ``{name: [lsb, msb]}``."""
    return {name: [f.offset, f.offset + f.width - 1] for name, f in layout}


def _register(reg: HostRegister) -> dict:
    return {"register": reg.name, "address": int(reg)}


def accelerator_ports(net: NetworkConfig, component=None) -> dict:
    """``{port: {"direction", "bits"}}`` of the accelerator's Verilog module."""
    component = component or Accelerator(net)
    return {name: {"direction": "input" if direction.name == "Input" else "output",
                   "bits": len(value)}
            for name, (value, direction) in verilog_ports(component).items()} | {
        "clk": {"direction": "input", "bits": 1}, "rst": {"direction": "input", "bits": 1}}


def run_protocol(net: NetworkConfig, image, *, in_frac: int, out_frac: int, in_real: int,
                 out_real: int) -> dict:
    """The steps of an inference on accelerator ``net`` loaded with ``image``:
    ``in_frac`` / ``out_frac`` are the first layer's input and the last layer's
    output fraction bits, ``in_real`` / ``out_real`` the network's real input and
    output widths (the streams carry padded rows)."""
    eng = net.engine
    component = Accelerator(net)
    first, last = image.descriptors[0], image.descriptors[-1]
    if first["kind"] == LayerKind.CONV2D:
        n_in = first["in_h"] * first["in_w"] * first["in_c"]
        order = "a feature map, channel-last: value (y*W + x)*C + c"
    else:
        n_in = first["in_values"]
        order = f"a vector, zero-padded from {in_real} to q*k = {n_in} values"
    n_out = last["p"] * eng.k
    status = {name: [f.offset, f.offset + f.width - 1] for name, f in STATUS_LAYOUT
              if name != "reserved"}
    return {
        "images_per_batch": net.images,
        "ports": accelerator_ports(net, component),
        "bus": {
            "address_bits": len(component.bus.addr), "data_bits": len(component.bus.w_data),
            "write": "one clock: bus__addr and bus__w_data with bus__w_en high",
            "read": f"bus__addr with bus__r_en high for one clock; bus__r_data holds the "
                    f"value {READ_LATENCY} clocks later (reads may follow every clock)",
            "read_latency_clocks": READ_LATENCY,
        },
        "steps": [
            "reset (rst high for a few clocks): registers return to their reset values, the "
            "memories keep their contents",
            "load: write every (address, data) of program.bin in its order, while the "
            "accelerator is idle (STATUS busy = 0): while busy, every write but CTRL is "
            "refused and sets STATUS write_ignored (cleared by the next accepted start)",
            f"start: write N_BATCHES = n, the network batches to run (each "
            f"{net.images} images), then CTRL = 1",
            f"stream n x {net.images} input images into port i, in order",
            f"take n x {net.images} x {n_out // 2} result words from port o",
            "poll STATUS until done = 1 (busy = 0); error = 1 names a refused descriptor: "
            "error_code and error_layer",
            "run again: write N_BATCHES and CTRL again (the network stays loaded); load "
            "another network with its own program.bin",
        ],
        "start": [dict(_register(HostRegister.N_BATCHES), data="n (network batches)"),
                  dict(_register(HostRegister.CTRL), data=1)],
        "status": dict(_register(HostRegister.STATUS), bits=status),
        "input": {
            "port": "i", "payload_bits": _fields(component.i.payload.shape()),
            "values_per_image": n_in, "words_per_image": -(-n_in // 2),
            "real_values": in_real, "order": order,
            "word": "two values: x0 = value 2j, x1 = value 2j+1 (a zero after an odd last "
                    "value), two's complement codes",
            "format": str(FixedFormat(eng.act_width, in_frac)), "frac_bits": in_frac,
            "code": f"round(x * 2**{in_frac}) (half to even), clamped to "
                    f"{eng.act_width}-bit two's complement",
        },
        "output": {
            "port": "o", "payload_bits": _fields(component.o.payload.shape()),
            "values_per_image": n_out, "words_per_image": n_out // 2, "real_values": out_real,
            "format": str(FixedFormat(eng.act_width, out_frac)), "frac_bits": out_frac,
            "value": f"code * 2**-{out_frac}",
            "order": (f"core batches of B = {eng.batch} images in input order; within one, "
                      f"for each PE pass g, for each image b of the core batch (tag vector), "
                      f"blocks g*P .. g*P+P-1 below p = {last['p']} (tag block, P = {eng.pes}), "
                      f"k/2 = {eng.half} "
                      f"words each, last = 1 on a block's final word; word n of block j of "
                      f"image b holds values j*k + 2n (y0) and j*k + 2n + 1 (y1)"),
        },
        "counters": {reg.name: int(reg) for reg in (
            HostRegister.INFERENCES, HostRegister.CYCLES, HostRegister.BATCH_CYCLES,
            HostRegister.ACC_SATURATIONS, HostRegister.OUT_SATURATIONS)}
        | {"LAYER_CYCLES[l]": f"{int(HostRegister.LAYER_CYCLES):#x} + l"},
    }
