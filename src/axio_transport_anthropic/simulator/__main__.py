"""`python -m axio_transport_anthropic.simulator`."""

from .command import simulate

if __name__ == "__main__":
    simulate(prog_name="python -m axio_transport_anthropic.simulator")
