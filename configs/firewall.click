// firewall.click -- a stateless IPv4 firewall over a packet trace.
//
// Reads Ethernet frames from a pcap file, lets ARP through, checks IPv4
// headers, and filters IP traffic with an ordered rule list: the first rule
// that matches decides. Accepted frames are written to another pcap file;
// each drop reason has its own counter, readable as a handler
// (for example 'clickpy run firewall.click -h drop_*.count').
//
// Parameters (override with NAME=value on the command line):
//   IN     the pcap file to read  (default traces/mixed.pcap beside this file, a
//          made-up minute at a small office's edge; see traces/make_mixed.py)
//   OUT    where accepted frames go         (default accepted.pcap)
//   LAN    the protected network            (default 10.0.0.0/8)

define($IN traces/mixed.pcap, $OUT accepted.pcap, $LAN 10.0.0.0/8)

// A named, counted exit for each kind of refused packet.
elementclass Drop { input -> count :: Counter -> Discard }

src :: FromDump($IN, STOP true);
read :: Counter;
out :: ToDump($OUT);
accepted :: Counter -> out;

frames :: Classifier(12/0806,    // ARP
                     12/0800,    // IPv4
                     -);         // anything else

src -> read -> frames;
frames [0] -> accepted;
frames [2] -> drop_other :: Drop;

frames [1]
    -> Strip(14)
    -> ip :: CheckIPHeader
    -> rules :: IPFilter(allow src net $LAN,                 // outbound
                         allow tcp && src port 80 or 443,      // web replies
                         allow udp && src port 53,             // DNS replies
                         allow icmp type echo-reply,
                         1 all)                                // the rest, counted
    -> Unstrip(14)
    -> accepted;

ip [1] -> drop_bad_header :: Drop;
rules [1] -> drop_by_rule :: Drop;

// When the trace ends, say what happened (the driver stops after this).
DriverManager(pause,
              print "firewall: read $(read.count) frames from $IN",
              print "  accepted $(accepted.count), written to $OUT",
              print "  refused by rule $(drop_by_rule/count.count), bad IP header $(drop_bad_header/count.count), not IP or ARP $(drop_other/count.count)",
              stop);
