// File-backed word memories for circnn's stream shell (sim/harness/stream_shell.py):
// the words a bench streams into a design are read from a hex file, and the
// words it streams out are written to one, so that a long run needs no
// Python between its first and its last clock.  Simulation only (Icarus
// Verilog and Verilator); the file names are relative to the folder the
// simulator runs in (the run's folder).
`default_nettype none

// ADDR_BITS-deep memory of WIDTH-bit words; on a clock with `load` high it
// reads "stream_in.hex" ($readmemh, one hex word a line); `data` is the word
// at `addr` one clock after `addr` (a registered read, as a block RAM).
module circnn_stream_source #(
    parameter integer WIDTH = 32,
    parameter integer ADDR_BITS = 10
) (
    input  wire                 clk,
    input  wire                 load,
    input  wire [ADDR_BITS-1:0] addr,
    output reg  [WIDTH-1:0]     data
);
    reg [WIDTH-1:0] words [0:(1 << ADDR_BITS) - 1];
    always @(posedge clk) begin
        if (load)
            $readmemh("stream_in.hex", words);
        data <= words[addr];
    end
endmodule

// ADDR_BITS-deep memory of WIDTH-bit words written at `addr` on clocks with
// `we` high; on a clock with `dump` high it writes words 0 .. count-1 to
// "stream_out.hex" ($writememh; nothing when count is 0).
module circnn_stream_sink #(
    parameter integer WIDTH = 32,
    parameter integer ADDR_BITS = 10
) (
    input  wire                 clk,
    input  wire                 we,
    input  wire [ADDR_BITS-1:0] addr,
    input  wire [WIDTH-1:0]     data,
    input  wire                 dump,
    input  wire [ADDR_BITS:0]   count
);
    reg [WIDTH-1:0] words [0:(1 << ADDR_BITS) - 1];
    always @(posedge clk) begin
        if (we)
            words[addr] <= data;
        if (dump && count != 0)
            $writememh("stream_out.hex", words, 0, count - 1);
    end
endmodule
`default_nettype wire
