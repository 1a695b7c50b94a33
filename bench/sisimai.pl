#!/usr/bin/perl
# Throughput of Sisimai->match (Debian libsisimai-perl) over the lines of a
# file, for comparison with bounce:  perl bench/sisimai.pl FILE [RUNS] [SECONDS_PER_RUN]
# Prints the median replies/s of RUNS runs (CPU time, like the other benches).
use strict;
use warnings;
use Sisimai;
use Time::HiRes ();

my ($file, $runs, $secs) = (@ARGV, 5, 0.5)[0 .. 2];
die "usage: sisimai.pl FILE [RUNS] [SECONDS_PER_RUN]\n" unless defined $file;
open my $fh, '<', $file or die "$file: $!\n";
my @lines = grep { /\S/ } map { chomp; $_ } <$fh>;
close $fh;

sub cpu { Time::HiRes::clock_gettime(Time::HiRes::CLOCK_PROCESS_CPUTIME_ID()) }

# One timed run: passes over all lines until $s seconds elapsed; replies/s.
sub run {
    my ($s) = @_;
    my ($done, $sink, $t) = (0, 0, 0);
    my $t0 = cpu();
    do {
        for my $l (@lines) { my $r = Sisimai->match($l); $sink++ if defined $r }
        $done += @lines;
        $t = cpu() - $t0;
    } while ($t < $s);
    return $done / $t;
}

run(0.2);
my @rates = sort { $a <=> $b } map { run($secs) } 1 .. $runs;
printf "Sisimai %s %.0f replies/s (median of %d, %d lines)\n",
    $Sisimai::VERSION, $rates[int($runs / 2)], $runs, scalar @lines;
