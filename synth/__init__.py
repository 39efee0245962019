"""The open ECP5 flow (yosys synth_ecp5 + nextpnr-ecp5) and the lint gate."""
