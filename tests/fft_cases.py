"""The FFT regressions' shared run: how many random frames, on which simulator, in a
stream shell deep enough for them."""

from circnn.sim.harness.runner import run_bench
from circnn.sim.harness.simulators import suite_simulator
from circnn.sim.harness.stream_shell import StreamShell, shell_addr_bits

RANDOM_VECTORS = 1000
#: transforms of this many points and more run on Verilator (unless ``$SIM`` says
#: otherwise): their build costs seconds, their clocks next to nothing
VERILATOR_FROM_POINTS = 16
#: on Verilator a configuration streams this many times the random frames
VERILATOR_FRAMES_FACTOR = 2
#: more than any bench's structured (corner-case) frames
STRUCTURED_FRAMES_BOUND = 256


def transform_simulator(points: int) -> str:
    return suite_simulator("verilator" if points >= VERILATOR_FROM_POINTS else "icarus")


def random_frame_count(points: int, simulator: str = "icarus") -> int:
    """Random frames per configuration: 1000, or 16k words for the large transforms
    (a 256-point frame is 256 words; 64 of them exercise every twiddle and stage
    as often as 1000 frames of 16); twice that on Verilator."""
    count = min(RANDOM_VECTORS, 16384 // points)
    return count * (VERILATOR_FRAMES_FACTOR if simulator == "verilator" else 1)


def run_transform_bench(component, *, name: str, test_module: str, points: int, config: dict,
                        random: int | None = None, testcase: str | None = None) -> None:
    """``component`` (a transform of ``points`` points, one word a point or fewer) in a
    stream shell, on its simulator, with ``random`` random frames (None: the
    configuration's count for that simulator)."""
    simulator = transform_simulator(points)
    most = random_frame_count(points, simulator)
    frames = most if random is None else random
    # one shell depth per transform and simulator: runs with fewer frames share the build
    shell = StreamShell(component, addr_bits=shell_addr_bits(
        (max(most, frames) + STRUCTURED_FRAMES_BOUND) * points))
    run_bench(shell, name=name, test_module=test_module, testcase=testcase, simulator=simulator,
              config=dict(config, random=frames))
