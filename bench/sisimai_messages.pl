#!/usr/bin/perl
# Throughput of Sisimai->make (Debian libsisimai-perl) over the corpus' bounce
# messages, for comparison with bench/messages.lua on the same files:
#   perl bench/sisimai_messages.pl [RUNS [SECONDS_PER_RUN [CORPUS_DIR]]]
# The files named in CORPUS_DIR/labels.jsonl (default: $CORPUS, else
# ../shared/corpus) are read into memory first and given to Sisimai->make as
# strings (delivered => 1, as bounce.parse reports deliveries too). With
# BOUNCE_RATE=N (bounce's messages/s) it also prints the ratio N / Sisimai.
# Prints the median messages/s of RUNS runs (CPU time, like the other benches).
use strict;
use warnings;
use Sisimai;
use Time::HiRes ();

my ($runs, $secs, $dir) = (@ARGV, 5, 0.5, $ENV{CORPUS} || '../shared/corpus')[0 .. 2];
open my $lf, '<', "$dir/labels.jsonl" or die "$dir/labels.jsonl: $!\n";
my @msgs;
while (my $line = <$lf>) {
    next unless $line =~ /"file"\s*:\s*"([^"]+)"/;
    open my $fh, '<:raw', "$dir/$1" or die "$dir/$1: $!\n";
    local $/;
    push @msgs, scalar <$fh>;
    close $fh;
}
close $lf;
die "no messages in $dir/labels.jsonl\n" unless @msgs;

sub cpu { Time::HiRes::clock_gettime(Time::HiRes::CLOCK_PROCESS_CPUTIME_ID()) }

# One timed run: passes over all messages until $s seconds elapsed;
# messages/s and the records of the last pass.
sub run {
    my ($s) = @_;
    my ($done, $records, $t) = (0, 0, 0);
    my $t0 = cpu();
    do {
        $records = 0;
        for my $m (@msgs) {
            my $text = $m;    # Sisimai reads from the string it is given
            my $v = Sisimai->make(\$text, 'delivered' => 1);
            $records += @$v if $v;
        }
        $done += @msgs;
        $t = cpu() - $t0;
    } while ($t < $s);
    return ($done / $t, $records);
}

run(0.2);
my ($records, @rates) = (0);
for (1 .. $runs) { my ($r, $n) = run($secs); push @rates, $r; $records = $n }
@rates = sort { $a <=> $b } @rates;
my $rate = $rates[int($runs / 2)];
printf "Sisimai->make %s %.0f messages/s (median of %d, %d messages, %d records)\n",
    $Sisimai::VERSION, $rate, $runs, scalar @msgs, $records;
if ($ENV{BOUNCE_RATE}) {
    printf "bounce.parse / Sisimai->make: %.0fx\n", $ENV{BOUNCE_RATE} / $rate;
}
