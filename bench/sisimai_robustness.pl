#!/usr/bin/perl
# Sisimai's results on a list of files, for bench/robustness.lua --sisimai:
#   perl bench/sisimai_robustness.pl LIST > results.jsonl
# LIST names one file a line (the corpus originals and their transformed
# copies). Each file is given to Sisimai->make as a string (an mbox when it
# starts with "From "), with delivered => 1 as bounce.parse reports
# deliveries too. One JSON line per file: {"path", "records": [{rcpt,
# action, delayed, status, code, reason, type, at}]}, where type is "hard"
# for softbounce 0, "soft" for 1, "none" otherwise (Sisimai has no block
# type), and at is the timestamp in unix seconds.
use strict;
use warnings;
use Sisimai;
use JSON::PP ();

my $list = shift or die "usage: $0 LIST\n";
open my $lf, '<', $list or die "$list: $!\n";
my $json = JSON::PP->new->canonical(1);
binmode STDOUT;
while (my $path = <$lf>) {
    chomp $path;
    next unless length $path;
    open my $fh, '<:raw', $path or die "$path: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh;
    my @records;
    # Sisimai dies on some malformed input: that is "no result" here
    my $v = eval { Sisimai->make(\$text, 'delivered' => 1) };
    for my $e (@{ $v || [] }) {
        my $soft = $e->softbounce;
        my $action = $e->action // '';
        push @records, {
            'rcpt'    => $e->recipient ? $e->recipient->address : '',
            'action'  => $action,
            'delayed' => ($action eq 'delayed' ? JSON::PP::true : JSON::PP::false),
            'status'  => $e->deliverystatus // '',
            'code'    => ($e->replycode // '') =~ /^\d+$/ ? $e->replycode + 0 : undef,
            'reason'  => $e->reason // '',
            'type'    => (defined $soft && $soft eq '0') ? 'hard' : (defined $soft && $soft eq '1') ? 'soft' : 'none',
            'at'      => $e->timestamp ? $e->timestamp->epoch + 0 : undef,
        };
    }
    print $json->encode({ 'path' => $path, 'records' => \@records }), "\n";
}
close $lf;
