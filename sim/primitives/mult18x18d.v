// Behavioural simulation model of the Lattice ECP5 MULT18X18D sysDSP block,
// written for circnn's cocotb benches from Lattice's sysDSP usage guide
// (FPGA-TN-02205): an 18x18 multiplier whose A and B inputs, the product
// (pipeline register) and the output can each be registered on CLK0..3.
//
// Scope: the subset circnn instantiates -- operands from the A/B pins
// (SOURCEA = SOURCEB = 0), SIGNEDA/SIGNEDB selecting signed or unsigned
// operands, every register on CLK0 with CE0 and a synchronous RST0, or
// bypassed ("NONE").  Cascade ports (SRI*/SRO*/RO*), the C input and
// clock dividers are not modelled; their outputs read as zero.
// yosys ships only a black box for this cell, which Icarus cannot simulate.
`default_nettype none
module MULT18X18D(
    input wire A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input wire B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input wire C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input wire SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input wire CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
    output wire P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24,
    output wire P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12,
    output wire P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
    output wire SIGNEDP
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};

    // Registers power up cleared (GSR) and clear synchronously on RST0.
    reg [17:0] a_q = 18'd0, b_q = 18'd0;
    reg sa_q = 1'b0, sb_q = 1'b0;
    reg [35:0] pipe_q = 36'd0, out_q = 36'd0;
    reg sp_pipe_q = 1'b0, sp_out_q = 1'b0;

    wire [17:0] a_s  = (REG_INPUTA_CLK == "NONE") ? a : a_q;
    wire [17:0] b_s  = (REG_INPUTB_CLK == "NONE") ? b : b_q;
    wire        sa_s = (REG_INPUTA_CLK == "NONE") ? SIGNEDA : sa_q;
    wire        sb_s = (REG_INPUTB_CLK == "NONE") ? SIGNEDB : sb_q;

    // Extend each operand to 36 bits by its own signedness, then multiply
    // modulo 2**36: the low 36 bits of the true product.
    wire [35:0] a_ext = {{18{sa_s & a_s[17]}}, a_s};
    wire [35:0] b_ext = {{18{sb_s & b_s[17]}}, b_s};
    wire [35:0] product = a_ext * b_ext;
    wire        signed_product = sa_s | sb_s;

    wire [35:0] pipe_s = (REG_PIPELINE_CLK == "NONE") ? product : pipe_q;
    wire        sp_pipe_s = (REG_PIPELINE_CLK == "NONE") ? signed_product : sp_pipe_q;
    wire [35:0] out_s  = (REG_OUTPUT_CLK == "NONE") ? pipe_s : out_q;
    wire        sp_out_s = (REG_OUTPUT_CLK == "NONE") ? sp_pipe_s : sp_out_q;

    always @(posedge CLK0) begin
        if (RST0) begin
            a_q <= 18'd0; b_q <= 18'd0; sa_q <= 1'b0; sb_q <= 1'b0;
            pipe_q <= 36'd0; out_q <= 36'd0; sp_pipe_q <= 1'b0; sp_out_q <= 1'b0;
        end else if (CE0) begin
            a_q <= a; b_q <= b; sa_q <= SIGNEDA; sb_q <= SIGNEDB;
            pipe_q <= product; sp_pipe_q <= signed_product;
            out_q <= pipe_s; sp_out_q <= sp_pipe_s;
        end
    end

    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24,
            P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12,
            P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = out_s;
    assign SIGNEDP = sp_out_s;
endmodule
`default_nettype wire
