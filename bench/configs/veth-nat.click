// veth-nat.click -- the veth benchmark's NAT (bench/firewall_nat_vs_kernel.py)
//
// Masquerade from DEV_IN's side out DEV_OUT: every TCP/UDP flow gets the
// source address NAT_ADDR and a source port from 1024-65535 (IPRewriter's
// pattern, as the kernel's 'masquerade' does), its TTL decremented, and
// leaves for the next hop on DEV_OUT. Replies arriving on DEV_OUT are
// rewritten back and leave on DEV_IN (the benchmark measures one
// direction: many flows, one packet after another, as 64-byte UDP).
//
//   clickpy run bench/configs/veth-nat.click DEV_IN=g1 DEV_OUT=s1 NAT_ADDR=10.2.0.1 \
//       SRC_MAC=<s1's MAC> DST_MAC=<next hop's MAC> METHOD=AFXDP

define($DEV_IN g1, $DEV_OUT s1, $METHOD AUTO, $BURST 32, $QUEUE 1024, $NAT_ADDR 10.2.0.1,
       $SRC_MAC 02:00:00:00:00:01, $DST_MAC 02:00:00:00:00:99,
       $IN_SRC_MAC 02:00:00:00:00:02, $IN_DST_MAC 02:00:00:00:00:98);

from :: FromDevice($DEV_IN, SNIFFER false, PROMISC true, METHOD $METHOD, BURST $BURST);
to :: ToDevice($DEV_OUT, METHOD $METHOD, BURST $BURST);
rfrom :: FromDevice($DEV_OUT, SNIFFER false, PROMISC true, METHOD $METHOD, BURST $BURST);
rto :: ToDevice($DEV_IN, METHOD $METHOD, BURST $BURST);

rw :: IPRewriter(pattern $NAT_ADDR 1024-65535 - - 0 1, drop);

from -> cls :: Classifier(12/0800, -)
     -> Strip(14)
     -> CheckIPHeader
     -> l4 :: IPClassifier(tcp or udp, -)
     -> [0]rw;
rfrom -> rcls :: Classifier(12/0800, -)
     -> Strip(14)
     -> CheckIPHeader
     -> [1]rw;
cls[1] -> Discard;
l4[1] -> Discard;
rcls[1] -> Discard;

rw[0] -> DecIPTTL -> EtherEncap(0x0800, $SRC_MAC, $DST_MAC) -> q :: Queue($QUEUE) -> to;
rw[1] -> DecIPTTL -> EtherEncap(0x0800, $IN_SRC_MAC, $IN_DST_MAC) -> rq :: Queue($QUEUE) -> rto;
