/*
 * rules.c - the built-in text rules, in priority order (the first match wins).
 *
 * Each rule: { name, pattern, reason, code, status, rhost, command, example,
 * final, source, counter }. Patterns are lower-case phrases matched
 * case-insensitively with white space collapsed; '*' separates fragments
 * that must appear in that order, '|' separates alternatives, and a leading
 * or trailing space makes a word boundary. Every rule carries an example
 * reply that it must decide and says where its meaning comes from (source):
 * an RFC ("rfc:5321": the reply texts of RFC 5321 4.2; "rfc:3463": the
 * registry's descriptions; RFC 4954, 7504, 7505, 7372, 8689, 5322 ...), a
 * provider's or filter's documentation ("provider:google", with the page in
 * the section heading), an MTA's own wording ("mta:postfix"), or general
 * wording ("wording"). A general-wording rule also carries a counter-example:
 * the same words where they mean something else, which it must not decide
 * (the words inside advice, at a stage where the reason is impossible, or
 * in a sense an earlier rule reads). spec/unit/rules_spec.lua and `bounce
 * rules --check` check both, and that no rule is shadowed by an earlier one.
 *
 * Order, and why:
 *   1. provider and MTA wordings, whose meaning their owners document and
 *      which often contain words that mean something else in general
 *      ("spam" in a Gmail RFC 5322 notice, "relay" in a Gmail IP block);
 *   then the provider code tables (src/providers.c): a provider's own code
 *   ("[TSS04]", "OFR_506", Microsoft's 5.4.1) says more than general words;
 *   then, in bnc_generic_rules:
 *   2. the reasons whose wording is the most specific: RFC compliance,
 *      email authentication, reverse DNS, TLS, blocklists (URI lists before
 *      IP lists), reputation, connection and rate limits, virus, spam,
 *      policy, content, relaying, authentication, the sender;
 *   3. mailbox conditions (full, too big, disabled), before address
 *      conditions: "Invalid address ... mailbox full" is a full mailbox;
 *   4. filters, moved and unknown addresses, unknown hosts, domains that
 *      take no mail, then local delivery agents (a program's own output
 *      decides before "mailer error");
 *   5. network, expiry and system trouble;
 *   6. generic words ("spam", "quota", "access denied"), so that any
 *      specific phrase wins over them; last, the words of an expiry ("gave
 *      up", "retry time exceeded") and of a delay notice ("will be retried
 *      for"), which yield to any cause the notice quotes.
 * Rules that read a word only under a given code or status carry that
 * condition ("mailbox unavailable" is a dead address only with 55x).
 */
#include <stddef.h>
#include "rules.h"

/* A text rule from a source; TF: a mailbox provider's own "no such
 * account", said at DATA by design (final); TC: under a code or status. */
#define T(src, name, pat, reason, ex) \
  { name, pat, reason, NULL, NULL, NULL, NULL, ex, 0, src, NULL }
#define TF(src, name, pat, reason, ex) \
  { name, pat, reason, NULL, NULL, NULL, NULL, ex, 1, src, NULL }
#define TC(src, name, pat, reason, code, status, ex) \
  { name, pat, reason, code, status, NULL, NULL, ex, 0, src, NULL }
/* General wording: an example it must decide, a counter-example it must not. */
#define W(name, pat, reason, ex, counter) \
  { name, pat, reason, NULL, NULL, NULL, NULL, ex, 0, "wording", counter }
#define WC(name, pat, reason, code, status, ex, counter) \
  { name, pat, reason, code, status, NULL, NULL, ex, 0, "wording", counter }

const bnc_rule_def_t bnc_builtin_rules[] = {
  /* ---- Google / Gmail (support.google.com/a/answer/3726730) --------------- */
  T("provider:google", "gmail-notexist", "account that you tried to reach does not exist", "userunknown",
    "550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
    "550 5.1.1 double-checking the recipient's email address for typos. x12si34 - gsmtp"),
  T("provider:google", "gmail-disabled", "account that you tried to reach is disabled", "suspend",
    "550 5.2.1 The email account that you tried to reach is disabled. x9si1 - gsmtp"),
  T("provider:google", "gmail-inactive", "account that you tried to reach is inactive", "suspend",
    "550 5.2.1 The email account that you tried to reach is inactive. - gsmtp"),
  T("provider:google", "gmail-over-quota", "account that you tried to reach is over quota", "mailboxfull",
    "452 4.2.2 The email account that you tried to reach is over quota. - gsmtp"),
  T("provider:google", "gmail-out-of-storage", "inbox is out of storage space", "mailboxfull",
    "452-4.2.2 The recipient's inbox is out of storage space. Please direct the\n"
    "452 4.2.2 recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp"),
  T("provider:google", "gmail-receiving-rate", "receiving mail at a rate that prevents additional messages", "speeding",
    "450-4.2.1 The user you are trying to contact is receiving mail at a rate that\n"
    "450 4.2.1 prevents additional messages from being delivered. - gsmtp"),
  T("provider:google", "gmail-receiving-fast", "receiving mail too quickly", "speeding",
    "450 4.2.1 The user you are trying to contact is receiving mail too quickly. - gsmtp"),
  T("provider:google", "gmail-relay-limit", "smtp relay limit exceeded", "speeding",
    "550 5.4.5 Daily SMTP relay limit exceeded for user. - gsmtp"),
  T("provider:google", "gmail-sending-quota", "daily sending quota exceeded", "speeding",
    "550 5.4.5 Daily sending quota exceeded. - gsmtp"),
  T("provider:google", "gmail-unsolicited-rate", "unusual rate of unsolicited mail", "badreputation",
    "421-4.7.28 Our system has detected an unusual rate of unsolicited mail originating\n"
    "421 4.7.28 from your DKIM domain [example.net 12]. - gsmtp"),
  /* 4.7.28, the wording of the 2024 sender rules: the rate of mail, not a
     * failed SPF check, although it names the SPF domain */
  T("provider:google", "gmail-unusual-rate", "has detected an unusual rate of mail", "badreputation",
    "421-4.7.28 [198.51.100.7] Gmail has detected an unusual rate of mail originating from\n"
    "421-4.7.28 your SPF domain [example.com 5]. To protect our users from spam, mail sent\n"
    "421 4.7.28 from your domain has been temporarily rate limited. - gsmtp"),
  /* 4.7.32 / 5.7.32: DMARC alignment (it names RFC 5322 for the From header) */
  T("provider:google", "gmail-not-aligned", "aligned with either the authenticated spf or dkim", "authfailure",
    "421-4.7.32 Your email has been rate limited because the From: header (RFC5322) in this\n"
    "421-4.7.32 message isn't aligned with either the authenticated SPF or DKIM organizational\n"
    "421 4.7.32 domain. - gsmtp"),
  T("provider:google", "gmail-low-reputation", "very low reputation of the sending", "badreputation",
    "550-5.7.1 [198.51.100.7] Our system has detected that this message is likely\n"
    "550 5.7.1 suspicious due to the very low reputation of the sending IP address. - gsmtp"),
  T("provider:google", "gmail-likely-unsolicited", "message is likely unsolicited mail", "spamdetected",
    "550-5.7.1 Our system has detected that this message is likely unsolicited mail.\n"
    "550 5.7.1 To reduce the amount of spam sent to Gmail, it has been blocked. - gsmtp"),
  T("provider:google", "gmail-suspicious-content", "suspicious due to the nature of the content", "spamdetected",
    "421-4.7.0 [198.51.100.7] Our system has detected that this message is suspicious\n"
    "421 4.7.0 due to the nature of the content and/or the links within. - gsmtp"),
  T("provider:google", "gmail-no-auth-info", "does not have authentication information", "authfailure",
    "550-5.7.26 This message does not have authentication information or fails to\n"
    "550 5.7.26 pass authentication checks. - gsmtp"),
  T("provider:google", "gmail-not-whitelisted", "ip not in whitelist for rcpt domain", "blocked",
    "421 4.7.0 IP not in whitelist for RCPT domain, closing connection. - gsmtp"),
  T("provider:google", "gmail-direct-ip", "not authorized to send email directly to our servers", "blocked",
    "550-5.7.1 [198.51.100.7] The IP you're using to send mail is not authorized to\n"
    "550-5.7.1 send email directly to our servers. Please use the SMTP relay at your\n"
    "550 5.7.1 service provider instead. - gsmtp"),
  T("provider:google", "gmail-ipv6-guidelines", "does not meet ipv6 sending guidelines", "requireptr",
    "550-5.7.1 [2001:db8::25] Our system has detected that this message does not meet\n"
    "550 5.7.1 IPv6 sending guidelines regarding PTR records and authentication. - gsmtp"),
  T("provider:google", "gmail-tls-required", "tls required for rcpt domain", "failedstarttls",
    "421 4.7.0 TLS required for RCPT domain, closing connection. - gsmtp"),
  T("provider:google", "gmail-no-tls", "wasn't sent over a tls connection", "failedstarttls",
    "421-4.7.29 Your email has been rate limited because this message wasn't sent over\n"
    "421 4.7.29 a TLS connection. - gsmtp"),
  T("provider:google", "gmail-security-issue", "content presents a potential security issue", "virusdetected",
    "552-5.7.0 This message was blocked because its content presents a potential\n"
    "552 5.7.0 security issue. - gsmtp"),
  T("provider:google", "gmail-illegal-attachment", "detected an illegal attachment", "virusdetected",
    "552 5.7.0 Our system detected an illegal attachment on this message. - gsmtp"),
  T("provider:google", "gmail-size-limit", "exceeded google's message size limits", "mesgtoobig",
    "552-5.2.3 Your message exceeded Google's message size limits. - gsmtp"),
  T("provider:google", "gmail-domain-policy", "has a policy that prohibited the mail", "policyviolation",
    "550 5.7.1 The user or domain that you are sending to (or from) has a policy that\n"
    "550 5.7.1 prohibited the mail that you sent. - gsmtp"),
  T("provider:google", "gmail-null-mx", "doesn't receive email according to the administrator", "notaccept",
    "DNS Error: 5512 DNS type 'mx' lookup of example.net responded with code NOERROR The domain "
    "example.net doesn't receive email according to the administrator: returned Null MX"),
  T("provider:google", "gmail-dns-error", "dns error: * lookup of", "networkerror",
    "DNS Error: 7731 DNS type 'mx' lookup of example.net responded with code SERVFAIL"),
  T("provider:google", "gmail-not-connect", "did not accept our requests to connect", "expired",
    "The recipient server did not accept our requests to connect. Learn more at "
    "https://support.google.com/mail/answer/7720 [mx.example.net. 203.0.113.9: timeout]"),
  T("provider:google", "gmail-recipient-domain", "able to find the recipient domain", "hostunknown",
    "553 5.1.2 We weren't able to find the recipient domain. Please check for any\n"
    "553 5.1.2 spelling errors. - gsmtp"),
  T("provider:google", "gmail-temp-rejected", "mail server temporarily rejected message", "systemerror",
    "451 4.3.0 Mail server temporarily rejected message. - gsmtp"),
  /* AUTH refused for a moment: about the credentials exchange, not the system */
  T("provider:google", "gmail-auth-temp", "cannot authenticate due to temporary system problem", "securityerror",
    "454 4.7.0 Cannot authenticate due to temporary system problem. Try again later. - gsmtp"),
  /* a denial of service guard at HELO: the connection, not the message */
  T("provider:google", "gmail-closing-connection", "try again later, closing connection", "toomanyconn",
    "421 4.7.0 Try again later, closing connection. - gsmtp"),
  T("provider:google", "gmail-multiple-domains", "multiple destination domains per transaction is unsupported",
    "syntaxerror",
    "451 4.3.0 Multiple destination domains per transaction is unsupported. Please try again. - gsmtp"),
  T("provider:google", "gmail-too-many-recipients", "your message has too many recipients|domain policy size per "
    "transaction exceeded", "syntaxerror",
    "452 4.5.3 Your message has too many recipients. For more information regarding Google's "
    "sending limits, visit https://support.google.com/mail/?p=MaxSizeError - gsmtp"),
  /* the sending account itself sent spam ("[CSR]": relays quoting Gmail or
   * Outlook): the sender is blocked, whatever the message says */
  T("provider:google", "csr-unsolicited-from-address", "unusual amount of unsolicited email originating from your "
    "address", "blocked",
    "550 5.7.1 [CSR] Our system has detected an unusual amount of unsolicited email originating "
    "from your address."),
  T("provider:google", "gmail-temp-problem", "temporary system problem", "systemerror",
    "421 4.3.0 Temporary System Problem. Try again later. - gsmtp"),
  T("provider:google", "gmail-app-password", "application-specific password required", "securityerror",
    "535 5.7.9 Application-specific password required. - gsmtp"),
  T("provider:google", "gmail-bad-credentials", "username and password not accepted", "securityerror",
    "535 5.7.8 Username and Password not accepted. - gsmtp"),

  /* ---- Microsoft: Exchange, Exchange Online, Outlook.com ----------------- */
  T("provider:microsoft", "ms-recip-not-found", "resolver.adr.recipnotfound", "userunknown",
    "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"),
  T("provider:microsoft", "ms-ex-recip-not-found", "resolver.adr.exrecipnotfound", "userunknown",
    "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found"),
  T("provider:microsoft", "ms-smtp-lookup", "not found by smtp address lookup", "userunknown",
    "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"),
  /* Exchange 5.5-2003 non-delivery reports, with their NDR code */
  TF("provider:microsoft", "ms-name-not-recognized", "recipient name is not recognized", "userunknown",
    "The recipient name is not recognized\n"
    " MSEXCH:IMS:EXAMPLE:SITE:HOST 0 (000C05A6) Unknown Recipient"),
  T("provider:microsoft", "ms-recip-limit", "resolver.adr.reciplimit", "toomanyconn",
    "550 5.5.3 RESOLVER.ADR.RecipLimit; too many recipients"),
  T("provider:microsoft", "ms-auth-required", "resolver.rst.authrequired", "securityerror",
    "550 5.7.1 RESOLVER.RST.AuthRequired; authentication required"),
  T("provider:microsoft", "ms-not-authenticated-for", "sendernotauthenticatedfor", "securityerror",
    "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required"),
  T("provider:microsoft", "ms-not-authorized", "resolver.rst.notauthorized", "filtered",
    "550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized"),
  T("provider:microsoft", "ms-allowed-senders", "not in allowed-senders list", "filtered",
    "550 5.7.124 Sender not in allowed-senders list"),
  T("provider:microsoft", "ms-recip-size", "resolver.rst.recipsizelimit", "exceedlimit",
    "552 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient"),
  T("provider:microsoft", "ms-send-size", "resolver.rst.sendsizelimit", "mesgtoobig",
    "552 5.3.4 RESOLVER.RST.SendSizeLimit.Sender; message too large for this sender"),
  T("provider:microsoft", "ms-reserved-domain", "reserved by rfc 2606", "hostunknown",
    "550 5.1.4 Recipient address reserved by RFC 2606"),
  T("provider:microsoft", "ms-banned-ip", "banned sending ip", "blocked",
    "550 5.7.606 Access denied, banned sending IP [198.51.100.7]. To request removal from this "
    "list please visit https://sender.office.com/"),
  T("provider:microsoft", "ms-banned-sender", "access denied, banned sender", "blocked",
    "550 5.7.511 Access denied, banned sender[198.51.100.7]."),
  T("provider:microsoft", "ms-bad-outbound-sender", "bad outbound sender", "securityerror",
    "550 5.1.8 Access denied, bad outbound sender"),
  T("provider:microsoft", "ms-rfc5322", "message must be rfc 5322", "notcompliantrfc",
    "550 5.7.512 Access denied, message must be RFC 5322 section 3.6.2 compliant"),
  T("provider:microsoft", "ms-ipv6", "does not accept email over ipv6", "blocked",
    "550 5.7.510 Access denied, example.com does not accept email over IPv6"),
  T("provider:microsoft", "ms-tenant-threshold", "tenant has exceeded threshold", "blocked",
    "550 5.7.705 Access denied, tenant has exceeded threshold"),
  T("provider:microsoft", "ms-traffic-from-ip", "traffic not accepted from this ip", "badreputation",
    "550 5.7.708 Access denied, traffic not accepted from this IP."),
  T("provider:microsoft", "ms-unregistered-domain", "blocked from sending from unregistered domain", "policyviolation",
    "550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains."),
  T("provider:microsoft", "ms-ip-reputation", "rate limited due to ip reputation", "badreputation",
    "451 4.7.650 The mail server [198.51.100.7] has been temporarily rate limited due to IP "
    "reputation."),
  T("provider:microsoft", "ms-server-busy", "server busy. please try again later from", "toomanyconn",
    "451 4.7.500 Server busy. Please try again later from [198.51.100.7]. (S77714)"),
  T("provider:microsoft", "ms-anonymous", "not authenticated to send anonymous mail", "securityerror",
    "530 5.7.57 Client was not authenticated to send anonymous mail during MAIL FROM"),
  T("provider:microsoft", "ms-send-as", "not have permissions to send as this sender", "securityerror",
    "550 5.7.60 SMTP; Client does not have permissions to send as this sender"),
  T("provider:microsoft", "ms-submission-quota", "submission quota exceeded", "speeding",
    "550 5.2.2 Submission quota exceeded"),
  T("provider:microsoft", "ms-external-forwarding", "does not allow external forwarding", "policyviolation",
    "550 5.7.520 Access denied, Your organization does not allow external forwarding."),
  T("provider:microsoft", "ms-send-as-denied", "sendasdenied", "securityerror",
    "554 5.2.252 SendAsDenied; a@example.com not allowed to send as b@example.com"),
  T("provider:microsoft", "ms-receive-limit", "per hour message receive limit", "speeding",
    "550 5.2.122 Recipient's per hour message receive limit exceeded"),
  T("provider:microsoft", "ms-recipient-thread-limit", "recipient thread limit exceeded", "speeding",
    "432 4.3.2 STOREDRV.Deliver; recipient thread limit exceeded"),
  T("provider:microsoft", "ms-ipv6-range-limits", "has exceeded permitted limits within", "speeding",
    "451 4.7.508 Access denied, [2001:db8::1] has exceeded permitted limits within /64 range"),
  T("provider:microsoft", "ms-bad-helo", "access denied, bad helo", "blocked",
    "550 5.7.506 Access denied, Bad HELO"),
  T("provider:microsoft", "ms-rejected-by-recipient", "access denied, rejected by recipient", "blocked",
    "550 5.7.507 Access denied, rejected by recipient"),
  T("provider:microsoft", "ms-single-label-domain", "single label domains not accepted", "hostunknown",
    "550 5.1.6 Recipient addresses in single label domains not accepted"),
  T("provider:microsoft", "ms-concurrent-connections", "maximum number of concurrent server connections", "toomanyconn",
    "421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing "
    "transmission channel"),
  T("provider:microsoft", "ms-recipient-daily-limit", "daily limit for message recipients", "speeding",
    "550 5.1.90 Your message can't be sent because you've reached your daily limit for message "
    "recipients."),
  T("provider:microsoft", "ms-pfa-agent-busy", "pfa agent busy", "systemerror",
    "451 4.7.700 PFA agent busy, please try again."),
  T("provider:microsoft", "ms-temporary-server-error", "temporary server error. please try again later", "systemerror",
    "421 4.7.0 Temporary server error. Please try again later. PRX4"),
  T("provider:microsoft", "ms-bare-linefeeds", "barelinefeedsareillegal", "notcompliantrfc",
    "550 5.6.11 SMTPSEND.BareLinefeedsAreIllegal; message contains bare linefeeds"),
  T("provider:microsoft", "ms-queue-expired", "queue.expired", "expired",
    "550 4.4.7 QUEUE.Expired; message expired"),
  T("provider:microsoft", "ms-messages-not-sent", "unfortunately, messages from * weren't sent", "blocked",
    "550 SC-001 (BAY004-MC1F41) Unfortunately, messages from 198.51.100.7 weren't sent. Please "
    "contact your Internet service provider."),
  T("provider:microsoft", "ms-outlook-policy", "outlook.com for policy reasons", "blocked",
    "550 OU-002 (SNT004-MC3F18) Mail rejected by Outlook.com for policy reasons."),
  T("provider:microsoft", "ms-hotmail-policy", "hotmail for policy reasons", "blocked",
    "550 DY-001 (COL004-MC2F7) Mail rejected by Windows Live Hotmail for policy reasons."),

  /* ---- Yahoo and AOL (senders.yahooinc.com/smtp-error-codes) -------------- */
  T("provider:yahoo", "yahoo-tss04", "[tss04]", "badreputation",
    "421 4.7.0 [TSS04] Messages from 198.51.100.7 temporarily deferred due to unexpected volume "
    "or user complaints - 4.16.55.1; see https://senders.yahooinc.com/smtp-error-codes"),
  T("provider:yahoo", "yahoo-ts01", "[ts01]", "badreputation",
    "421 4.7.0 [TS01] Messages from 198.51.100.7 temporarily deferred due to user complaints - "
    "4.16.55.1"),
  T("provider:yahoo", "yahoo-ts03", "[ts03]", "blocked",
    "553 5.7.1 [TS03] All messages from 198.51.100.7 will be permanently deferred; Retrying will "
    "NOT succeed."),
  T("provider:yahoo", "yahoo-tss09", "[tss09]", "blocked",
    "421 4.7.0 [TSS09] All messages from 198.51.100.7 will be permanently deferred; Retrying "
    "will NOT succeed."),
  T("provider:yahoo", "yahoo-tss11", "[tss11]", "blocked",
    "421 4.7.1 [TSS11] Excessive unknown recipients - possible Open Relay (#4.7.1)"),
  T("provider:yahoo", "yahoo-bl21", "[bl21]", "blocked",
    "553 5.7.1 [BL21] Connections will not be accepted from 198.51.100.7, because the ip is in "
    "Spamhaus's list"),
  T("provider:yahoo", "yahoo-bl23", "[bl23]", "blocked",
    "553 5.7.1 [BL23] Connections not accepted from IP addresses on Spamhaus XBL"),
  T("provider:yahoo", "yahoo-ph01", "[ph01]", "policyviolation",
    "554 Message not allowed - [PH01] Email not accepted for policy reasons."),
  T("provider:yahoo", "yahoo-policy-reasons", "not accepted for policy reasons", "policyviolation",
    "554 5.7.9 Message not accepted for policy reasons. See "
    "https://senders.yahooinc.com/smtp-error-codes"),
  TF("provider:yahoo", "yahoo-no-account", "this user doesn't have a * account", "userunknown",
    "554 delivery error: dd This user doesn't have a yahoo.com account (nobody@yahoo.com) [0] - "
    "mta1234.mail.bf1.yahoo.com"),
  T("provider:yahoo", "yahoo-mailbox-disabled", "this mailbox is disabled", "suspend",
    "554 delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. This "
    "mailbox is disabled (554.30). - mta1001.mail.gq1.yahoo.com"),
  T("provider:yahoo", "yahoo-disabled-discontinued", "disabled or discontinued", "suspend",
    "554 delivery error: dd Sorry your message to someone@aol.com cannot be delivered. This "
    "account has been disabled or discontinued [#102]."),
  T("provider:yahoo", "yahoo-unresolvable-from", "unresolvable rfc.5321 from domain", "rejected",
    "451 Message temporarily deferred due to unresolvable RFC.5321 from domain; see "
    "https://senders.yahooinc.com/smtp-error-codes"),
  T("provider:yahoo", "yahoo-headers-rfc", "headers are not rfc compliant", "notcompliantrfc",
    "554 Message not allowed - Headers are not RFC compliant[291]"),
  /* Yahoo's busy servers say it with 421/451 (a queue that quotes the words
   * as its last error before giving up has expired) */
  TC("provider:yahoo", "yahoo-resources-unavailable", "resources temporarily unavailable",
     "systemerror", "4", NULL,
     "421 Resources temporarily unavailable. Please try again later"),
  T("provider:yahoo", "yahoo-complaints", "user complaints", "badreputation",
    "421 4.7.0 [GL01] Message from (198.51.100.7) temporarily deferred due to user complaints"),
  T("provider:yahoo", "yahoo-permanently-deferred", "will be permanently deferred", "blocked",
    "421 4.7.1 [TS02] All messages from 198.51.100.7 will be permanently deferred"),
  T("provider:yahoo", "yahoo-connections-not-accepted", "connections will not be accepted from", "blocked",
    "553 5.7.1 Connections will not be accepted from 198.51.100.7"),
  T("provider:aol", "aol-rtr-bb", "rtr:bb", "blocked",
    "554 RTR:BB  http://postmaster.info.aol.com/errors/554rtrbb.html"),
  T("provider:aol", "aol-rtr-bl", "rtr:bl", "blocked",
    "554- (RTR:BL) http://postmaster.info.aol.com/errors/554rtrbl.html"),
  T("provider:aol", "aol-dyn", "dyn:t1", "blocked",
    "421 DYN:T1  http://postmaster.info.aol.com/errors/421dynt1.html"),
  T("provider:aol", "aol-will-not-accept", "aol will not accept delivery of this message", "blocked",
    "521 5.2.1 : AOL will not accept delivery of this message."),

  /* ---- Apple iCloud (support.apple.com/HT204137) ------------------------- */
  T("provider:apple", "icloud-inactive", "inactive email address", "userunknown",
    "550 5.1.1 <someone@icloud.com>: inactive email address"),
  T("provider:apple", "icloud-excessive-volume", "deferred due to excessive volume", "speeding",
    "421 4.7.1 Messages to b@icloud.com deferred due to excessive volume. Try again later - "
    "https://support.apple.com/en-us/HT204137"),
  T("provider:apple", "icloud-illegal-alias", "unknown or illegal alias", "userunknown",
    "550 5.1.1 unknown or illegal alias: someone@icloud.com"),

  /* busy at the top of the hour: the 4.7.1 is no refusal of the sender */
  T("provider:apple", "icloud-try-later", "service unavailable - try again later", "systemerror",
    "451 4.7.1 Service unavailable - try again later"),

  /* ---- Orange / Wanadoo ------------------------------------------------- */
  T("provider:orange", "orange-overquota", "recipient overquota", "mailboxfull",
    "552 5.2.2 Boite du destinataire pleine. Recipient overquota. OFR_417 [417]"),
  T("provider:orange", "orange-account-blocked", "compte du destinataire est bloque", "suspend",
    "550 5.5.0 Le compte du destinataire est bloque. The recipient account is blocked. LPN007_402"),
  TF("provider:orange", "orange-invalid-recipient", "destinataire invalide", "userunknown",
    "550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]"),
  T("provider:orange", "orange-ofr-506", "ofr_506", "spamdetected",
    "550 5.2.0 Mail rejete. Mail rejected. OFR_506 [506]"),
  T("provider:orange", "orange-invalid-sender", "emetteur invalide", "rejected",
    "550 5.1.0 Adresse d emetteur invalide. Invalid Sender. OFR_102 [102]"),

  /* ---- GMX, WEB.DE (United Internet) ------------------------------------ */
  T("provider:gmx", "gmx-black-listed", "ip address is black listed", "blocked",
    "554-gmx.net (mxgmx013) Nemesis ESMTP Service not available\n"
    "554-No SMTP service\n"
    "554-IP address is black listed.\n"
    "554 For explanation visit https://postmaster.gmx.net/en/case?ip=198.51.100.7"),
  T("provider:gmx", "gmx-bad-ptr", "bad dns ptr resource record", "requireptr",
    "554-web.de (mxweb112) Nemesis ESMTP Service not available\n"
    "554-No SMTP service\n"
    "554 Bad DNS PTR resource record."),
  T("provider:gmx", "gmx-invalid-sender-dns", "invalid dns mx or a/aaaa resource record", "rejected",
    "550-Requested action not taken: mailbox unavailable\n"
    "550 invalid DNS MX or A/AAAA resource record"),
  T("provider:gmx", "gmx-policy-restrictions", "reject due to policy restrictions", "policyviolation",
    "554-Transaction failed\n"
    "554-Reject due to policy restrictions.\n"
    "554 For explanation visit https://postmaster.gmx.net/en/error-messages"),

  /* "policy violations": GMX's name for a poor delivery record (too many
   * unknown recipients, a changing HELO), not a policy the message broke */
  T("provider:gmx", "gmx-policy-violations", "reject due to policy violations", "badreputation",
    "421 Reject due to policy violations. For explanation visit "
    "https://postmaster.gmx.net/en/case?c=r0301&i=ip&v=198.51.100.7&r=1A2B"),
  /* GMX's greeting when it refuses the connecting host; the lines after it
   * name the case, this line alone is a refusal before any command */
  TC("provider:gmx", "gmx-nemesis-refused", "nemesis esmtp service not available", "blocked", "554", NULL,
     "554-gmx.net (mxgmx017) Nemesis ESMTP Service not available"),

  /* ---- Deutsche Telekom (T-Online): a refused sender is told to write to
     * the postmaster desk, without a reason in the reply ------------------- */
  T("provider:t-online", "tonline-ask-postmaster", "contact tosa@rx.t-online.de", "blocked",
    "554 IP=198.51.100.7 - A problem occurred. (Ask your postmaster for help or to contact "
    "tosa@rx.t-online.de to clarify.)"),

  /* ---- Comcast (postmaster.comcast.net/smtp-error-codes): codes BL... are
     * block lists, RL... rate limits; an unknown address is "Not our Customer" */
  T("provider:comcast", "comcast-rate-limit", "comcast.net/smtp-error-codes.php#rl", "toomanyconn",
    "421 resimta-h1p-037599.sys.comcast.net comcast 198.51.100.7 Too many sessions opened "
    "RL000001 http://postmaster.comcast.net/smtp-error-codes.php#RL000001"),
  /* (with 550 only: "551 not our customer" is RFC 5321's user-not-local,
     * an address that moved) */
  { "comcast-not-our-customer", "not our customer", "userunknown", "550", NULL, NULL, NULL,
    "550 5.1.1 <nobody@comcast.net> Not our Customer", 1, "provider:comcast", NULL },

  /* ---- Mail.ru, Yandex, Zoho, QQ ---------------------------------------- */
  /* the sender's own account, stopped for suspected compromise */
  T("provider:mailru", "mailru-sending-disabled", "message sending for this account is disabled",
    "securityerror",
    "550 message sending for this account is disabled"),
  T("provider:mailru", "mailru-disabled", "is unavailable: account is disabled", "suspend",
    "550 Message was not accepted -- invalid mailbox.  Local mailbox someone@mail.ru is "
    "unavailable: account is disabled"),
  T("provider:mailru", "mailru-invalid-mailbox", "message was not accepted -- invalid mailbox", "userunknown",
    "550 Message was not accepted -- invalid mailbox.  Local mailbox nobody@mail.ru is "
    "unavailable: user not found"),
  T("provider:yandex", "yandex-policy-rejection", "policy rejection on the target address", "policyviolation",
    "550 5.7.1 Policy rejection on the target address"),
  T("provider:zoho", "zoho-outgoing-blocked", "email outgoing blocked", "rejected",
    "554 5.1.8 Email Outgoing Blocked."),
  T("provider:zoho", "zoho-unusual-activity", "unusual sending activity detected", "speeding",
    "550 5.4.6 Unusual sending activity detected. Please try after sometime."),
  T("provider:yandex", "yandex-spam-statistics", "blocked by spam statistics", "badreputation",
    "554 5.7.1 Blocked by spam statistics - see https://yandex.com/support/mail/"),
  /* the sender's own outgoing mail, throttled after spam from it */
  T("provider:yandex", "yandex-spam-limit", "spam limit exceeded", "speeding",
    "451 4.7.1 Spam limit exceeded"),
  T("provider:zoho", "zoho-destination-domain", "mail rejected by destination domain", "filtered",
    "541 5.4.1 Mail rejected by destination domain"),
  T("provider:zoho", "zoho-policy-error", "delivery restricted by policy error|delivery failure policy error",
    "policyviolation",
    "552 5.1.1 <b@example.net> Mailbox delivery failure policy error"),
  /* QQ: a recipient getting too much mail is closed for a while (5xx all the
   * same), not a missing mailbox */
  T("provider:qq", "qq-unavailable-or-denied", "mailbox unavailable or access denied", "speeding",
    "550 Mailbox unavailable or access denied [MMHgI0BUMjE 198.51.100.7]. "
    "http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000729"),
  /* (the numbered forms, "no=1000726" and "no=1000730", are in the code
   * tables of src/providers.c) */
  T("provider:qq", "qq-content-rejected", "error: content rejected", "spamdetected",
    "550 Error: content rejected. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022"),
  T("provider:qq", "qq-spam-sender", "suspected spam sender", "badreputation",
    "550 Suspected spam sender. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022"),
  /* NetEase: too many failed logins */
  T("provider:netease", "netease-fail-auth", "too much fail authentication", "securityerror",
    "451 Requested mail action not taken: too much fail authentication"),
  /* Free (postmaster.free.fr): the IP is held for at most 24 hours */
  T("provider:free", "free-too-many-spams", "too many spams from your ip", "blocked",
    "550 Too many spams from your IP (198.51.100.7), please visit http://postmaster.free.fr/"),
  /* QQ: the recipient put the sender on its own block list */
  T("provider:qq", "qq-rejected-by-recipients", "mail is rejected by recipients", "filtered",
    "550 Mail is rejected by recipients [abc123 198.51.100.7]. "
    "https://service.mail.qq.com/detail/0/92"),
  T("provider:qq", "qq-connection-limited", "connection frequency limited", "toomanyconn",
    "550 Connection frequency limited. http://service.mail.qq.com/cgi-bin/help?subtype=1&&"
    "id=20022&&no=1000722"),
  T("provider:qq", "qq-frequency-limited", "frequency limited", "speeding",
    "550 Ip frequency limited [198.51.100.7]. "
    "http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022"),

  /* ---- sendmail's local delivery agent: the mailbox host's own lookup ---- */
  TF("mta:sendmail", "mail-local-unknown-user", "mail.local: unknown user", "userunknown",
    "mail.local: unknown user: someone\n"
    "554 <someone@example.net>... Service unavailable"),

  /* ---- IMail ------------------------------------------------------------ */
  TF("mta:imail", "imail-invalid-userid", "invalid final delivery userid", "userunknown",
    "Invalid final delivery userid: a@example.org"),

  /* ---- Japanese mobile carriers --------------------------------------------- */
  /* au (KDDI): the receiver's domain filter refuses with an empty address;
     * a mailbox that does not exist is named ("<a@au.com>: User unknown") */
  T("provider:kddi", "au-domain-filter", " : user unknown", "filtered",
    "550 : User unknown"),
  { "au-user-unknown", "user unknown", "userunknown", NULL, NULL, "ezweb.ne.jp", NULL,
    "host lsean.ezweb.ne.jp[27.85.176.228] said: 550 <a@ezweb.ne.jp>: User unknown", 1, "provider:kddi", NULL },

  /* ---- filtering services and appliances -------------------------------- */
  T("provider:proofpoint", "proofpoint-dnsbl", "proofpoint.com/dnsbl-lookup", "blocked",
    "554 5.7.1 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=198.51.100.7"),
  T("provider:proofpoint", "proofpoint-ipcheck", "ipcheck.proofpoint.com", "blocked",
    "550 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.7"),
  T("provider:mimecast", "mimecast-sender-blocked", "sender address blocked - https://community.mimecast",
    "blocked",
    "421 Sender address blocked - https://community.mimecast.com/docs/DOC-1369#421"),
  T("provider:mimecast", "mimecast-envelope-blocked", "envelope blocked", "rejected",
    "550 Envelope blocked - User Entry - https://community.mimecast.com/docs/DOC-1369#550"),
  T("provider:mimecast", "mimecast-blocked-senders", "blocked senders - block policy", "rejected",
    "550 Rejected by header based Blocked Senders - Block policy for Header From"),
  T("provider:mimecast", "mimecast-anti-spoofing", "anti-spoofing policy", "policyviolation",
    "550 Rejected by header based Anti-Spoofing policy: someone@example.com"),
  T("provider:mimecast", "mimecast-security-policies", "email rejected due to security policies", "virusdetected",
    "554 Email rejected due to security policies - "
    "https://community.mimecast.com/docs/DOC-1369#554"),
  T("provider:mimecast", "mimecast-host-network", "host network not allowed", "policyviolation",
    "554 Host network not allowed - https://community.mimecast.com/docs/DOC-1369#554"),
  T("provider:mimecast", "mimecast-open-relay", "open relay not allowed", "norelaying",
    "451 Open relay not allowed - https://community.mimecast.com/docs/DOC-1369#451"),
  T("provider:mimecast", "mimecast-max-size", "maximum email size exceeded", "mesgtoobig",
    "554 Maximum email size exceeded - https://community.mimecast.com/docs/DOC-1369#554"),
  T("provider:mimecast", "mimecast-internal-resources", "internal resources are temporarily unavailable", "systemerror",
    "451 Internal resources are temporarily unavailable - "
    "https://community.mimecast.com/docs/DOC-1369#451"),
  /* greylisting, or a poor IP reputation held back for a while */
  T("provider:mimecast", "mimecast-internal-resource", "internal resource temporarily unavailable", "onhold",
    "451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451"),
  T("provider:barracuda", "barracuda-spoofed", "rejecting spoofed message", "policyviolation",
    "550 rejecting spoofed message"),
  /* Trend Micro's sender filtering (DHA, bounce attacks, throttling) */
  T("provider:trendmicro", "trendmicro-block", "block temporarily|block permanently", "blocked",
    "421 Block temporarily"),
  /* AT&T / BellSouth (rbl.att.net): the sending host's reverse DNS, a busy
   * server, a host that is no known mail source */
  T("provider:att", "att-dns-lookup", "failure in dns look-up", "requireptr",
    "421 failure in DNS look-up."),
  T("provider:att", "att-busy", "busy--please try again later", "systemerror",
    "450 busy--Please try again later"),
  T("provider:att", "att-ip-blocked", "> is blocked", "blocked",
    "521 5.3.0 <198.51.100.7> is blocked"),
  T("provider:att", "att-unauthorized-interface", "unauthorized interface for", "blocked",
    "550 unauthorized interface for 198.51.100.7"),
  T("provider:barracuda", "barracuda-central", "barracudacentral", "blocked",
    "554 5.7.1 Service unavailable; client [198.51.100.7] blocked by b.barracudacentral.org"),
  T("provider:barracuda", "barracuda-brbl", " brbl", "blocked",
    "554 Your IP 198.51.100.7 is in BRBL, please request removal"),
  T("provider:barracuda", "barracuda-recipient-blocked", ":blocked)", "rejected",
    "550 permanent failure for one or more recipients (someone@example.com:blocked)"),
  T("provider:cisco", "ironport-access-rejected", "access to submit messages to this e-mail system has been rejected", "blocked",
    "550 #5.7.1 Your access to submit messages to this e-mail system has been rejected."),
  T("provider:cox", "cox-cdrbl", "aup#cdrbl", "blocked",
    "550 5.1.0 <bounce@example.com> sender rejected. Refer to Error Codes section at "
    "https://www.cox.com/residential/support/email-error-codes.html AUP#CDRBL"),
  T("provider:cox", "cox-cxbl", "aup#cxbl", "blocked",
    "554 cox.net ... 198.51.100.7 rejected. IB101 AUP#CXBL"),
  T("provider:cox", "cox-cxdns", "aup#cxdns", "requireptr",
    "554 cox.net ... 198.51.100.7 rejected. No PTR match. AUP#CXDNS"),
  T("provider:godaddy", "godaddy-recipients-per-hour", "too many recipients this hour", "speeding",
    "550 5.1.1 <a@example.com> - 198.51.100.7 has sent to too many recipients this hour. IB607 "
    "<http://x.co/rlbounce>"),
  T("provider:facebook", "facebook-recipient-preferences", "refused due to recipient preferences", "filtered",
    "550 5.1.1 RCP-P2 http://postmaster.facebook.com/response_codes?ip=198.51.100.7#rcp Refused "
    "due to recipient preferences"),
  TF("mta:domino", "domino-not-listed", "not listed in domino directory", "userunknown",
    "550 5.1.1 User someone@example.com not listed in Domino Directory"),
  TF("mta:domino", "domino-not-listed-nab", "not listed in public name & address book", "userunknown",
    "550 User not listed in public Name & Address Book"),
  /* Lotus Notes in Japanese (UTF-8: the message parser decodes ISO-2022-JP and
   * the other legacy charsets): "not in the directory list" */
  TF("mta:notes", "notes-not-in-directory-ja",
    "\xe3\x83\x87\xe3\x82\xa3\xe3\x83\xac\xe3\x82\xaf\xe3\x83\x88\xe3\x83\xaa\xe3\x81\xae\xe3\x83\xaa"
    "\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xab\xe3\x81\x82\xe3\x82\x8a\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93",
    "userunknown",
    "\xe3\x83\x87\xe3\x82\xa3\xe3\x83\xac\xe3\x82\xaf\xe3\x83\x88\xe3\x83\xaa\xe3\x81\xae\xe3\x83\xaa"
    "\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xab\xe3\x81\x82\xe3\x82\x8a\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93"),
  TF("provider:trendmicro", "interscan-check-address", "please check if address is correct", "userunknown",
    "Unable to deliver message to <a@example.org> (and other recipients in the same domain). "
    "Please check if address is correct."),
  TF("provider:google", "gmail-address-not-found", "because the address couldn't be found", "userunknown",
    "Your message wasn't delivered to a@example.org because the address couldn't be found. Check "
    "for typos or unnecessary spaces and try again."),

  /* ---- MTA wordings: qmail, Postfix, Exim, sendmail --------------------- */
  T("mta:qmail", "qmail-no-mailbox", "no mailbox here by that name", "userunknown",
    "Sorry, no mailbox here by that name. (#5.1.1)"),
  T("mta:qmail", "qmail-no-host", "couldn't find any host named", "hostunknown",
    "Sorry, I couldn't find any host named mail.example.invalid. (#5.1.2)"),
  T("mta:qmail", "qmail-no-mx", "couldn't find a mail exchanger or ip address", "notaccept",
    "Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)"),
  T("mta:qmail", "qmail-ldap-no-host", "find any host by that name", "hostunknown",
    "Sorry, I couldn't find any host by that name. (#4.1.2)"),
  T("mta:qmail", "qmail-rcpthosts", "in my list of allowed rcpthosts", "norelaying",
    "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"),
  T("mta:qmail", "qmail-no-connection", "wasn't able to establish an smtp connection", "networkerror",
    "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)"),
  T("mta:qmail", "qmail-looping", "this message is looping", "networkerror",
    "This message is looping: it already has my Delivered-To line. (#5.4.6)"),
  T("mta:postfix", "postfix-no-hostname", "cannot find your hostname", "requireptr",
    "450 4.7.1 Client host rejected: cannot find your hostname, [198.51.100.7]"),
  T("mta:postfix", "postfix-no-reverse-hostname", "cannot find your reverse hostname", "requireptr",
    "450 4.7.25 Client host rejected: cannot find your reverse hostname, [198.51.100.7]"),
  T("mta:postfix", "postfix-pipelining", "improper use of smtp command pipelining", "policyviolation",
    "554 5.5.0 <unknown[198.51.100.7]>: Client host rejected: Improper use of SMTP command "
    "pipelining"),
  T("mta:postfix", "postfix-helo-rejected", "helo command rejected", "blocked",
    "450 4.7.1 <localhost>: Helo command rejected: Host not found"),
  T("mta:postfix", "postfix-refused-to-talk", "refused to talk to me", "blocked",
    "connect to mx.example.net[203.0.113.9]:25: server refused to talk to me: 554 No SMTP "
    "service here"),
  T("mta:postfix", "postfix-lost-connection", "lost connection with", "networkerror",
    "lost connection with mx.example.net[203.0.113.9] while receiving the initial server greeting"),
  T("mta:postfix", "postfix-loops-back", "loops back to myself", "networkerror",
    "mail for example.net loops back to myself"),
  T("mta:postfix", "postfix-undeliverable", "undeliverable address", "userunknown",
    "450 4.1.1 <a@example.net>: Recipient address rejected: undeliverable address: mailbox does "
    "not exist"),
  T("mta:postfix", "postfix-dns-try-again", "host not found, try again", "networkerror",
    "Host or domain name not found. Name service error for name=example.net type=MX: Host not "
    "found, try again"),
  T("mta:postfix", "postfix-host-not-found", "host or domain name not found", "hostunknown",
    "Host or domain name not found. Name service error for name=example.invalid type=MX: Host "
    "not found"),
  T("mta:postfix", "postfix-name-service", "name service error", "networkerror",
    "Name service error for name=example.net type=MX: Malformed or unexpected name server reply"),
  T("mta:postfix", "postfix-temp-lookup", "temporary lookup failure", "systemerror",
    "451 4.3.0 <a@example.net>: Temporary lookup failure"),
  T("mta:exim", "exim-unrouteable-domain", "unrouteable mail domain", "hostunknown",
    "550 Unrouteable mail domain \"example.invalid\""),
  T("mta:exim", "exim-no-mx-hosts", "mx records point to non-existent hosts", "hostunknown",
    "all relevant MX records point to non-existent hosts"),
  T("mta:exim", "exim-no-smtp-service", "record indicated no smtp service", "notaccept",
    "an MX or SRV record indicated no SMTP service"),
  T("mta:exim", "exim-may-not-exist", "account or domain may not exist", "hostunknown",
    "The mail server could not deliver mail to a@example.net. The account or domain may not "
    "exist, they may be blacklisted, or missing the proper dns entries."),
  T("mta:exim", "exim-sender-verify", "sender verify failed", "rejected",
    "550-Verification failed for <bounce@example.com>\n"
    "550 Sender verify failed"),
  /* an appendfile quota that outlived the retry rules: the cause, not the expiry */
  T("mta:exim", "exim-full-retry-timeout", "mailbox is full: retry timeout exceeded", "mailboxfull",
    "save to /var/mail/a generated by a@example.org mailbox is full: retry timeout exceeded"),
  T("mta:exim", "exim-retry-timeout", "retry timeout exceeded", "expired",
    "retry timeout exceeded"),
  T("mta:exim", "exim-retry-not-reached", "retry time not reached for any host", "expired",
    "retry time not reached for any host after a long failure period"),
  T("mta:exim", "exim-sync-error", "smtp synchronization error", "policyviolation",
    "554 SMTP synchronization error"),
  T("mta:exim", "exim-admin-prohibition", "administrative prohibition", "policyviolation",
    "550 Administrative prohibition"),
  T("mta:sendmail", "sendmail-addressee-unknown", "addressee unknown", "userunknown",
    "550 5.1.1 <a@example.net>... Addressee unknown, relay=mx.example.net"),
  T("mta:sendmail", "sendmail-too-many-hops", "too many hops", "networkerror",
    "554 5.4.6 Too many hops 26 (25 max): from <a@example.org> via localhost"),
};

const size_t bnc_builtin_rules_count =
  sizeof bnc_builtin_rules / sizeof bnc_builtin_rules[0];

/* General wording, RFC texts and generic words: tried after the provider
 * code tables (src/providers.c), since a provider's own code says more
 * than words that any server may use ("local policy", "access denied"). */
const bnc_rule_def_t bnc_generic_rules[] = {

  /* ---- RFC 5322 compliance ----------------------------------------------- */
  T("rfc:5322", "not-rfc5322", "not rfc 5322 compliant", "notcompliantrfc",
    "550 5.7.1 This message is not RFC 5322 compliant. There are multiple Date headers."),
  T("rfc:5322", "rfc5322-word", "rfc 5322", "notcompliantrfc",
    "554 5.6.0 Message violates RFC 5322 header rules"),
  T("rfc:5322", "rfc5322-word-joined", "rfc5322", "notcompliantrfc",
    "550 5.7.1 Headers do not conform to RFC5322"),
  T("rfc:2822", "rfc2822-word", "rfc 2822", "notcompliantrfc",
    "554 5.6.0 Message does not conform to RFC 2822 standard"),
  W("rfc-compliant", "not rfc compliant|multiple addresses in from", "notcompliantrfc",
    "554 5.6.0 Message is not RFC compliant",
    "550 5.7.1 Message rejected as spam. If you send mail that is not RFC compliant, it may be "
    "refused as well."),
  W("multiple-headers", "there are multiple * headers", "notcompliantrfc",
    "550 5.7.1 Rejected: there are multiple Subject headers",
    "550 5.7.1 Message refused by local policy. Please check that there are multiple From "
    "headers only when a Sender header is present."),
  W("malformed-headers", "missing a valid message-id|missing a valid address in from|bare lf|bare linefeed|message is "
    "malformed", "notcompliantrfc",
    "550 5.7.1 Messages missing a valid Message-ID header are not accepted.",
    "550 5.7.1 Rejected for policy reasons. Please see our guide to messages missing a valid "
    "Message-ID."),
  /* a header present twice is the message's form, whatever header it is
   * ("duplicate header DKIM-Signature" is no failed DKIM check) */
  W("duplicate-header", "duplicate header", "notcompliantrfc",
    "550 5.7.1 Message rejected: duplicate header DKIM-Signature",
    "550 5.7.1 Rejected for policy reasons. Please remove any duplicate header before resending."),

  /* ---- email authentication: DMARC, SPF, DKIM, ARC (RFC 7372) ------------ */
  W("email-authentication", "dmarc|spf|sender policy framework|dkim|domainkeys", "authfailure",
    "550 5.7.1 Email rejected per DMARC policy for example.org",
    "550 5.7.1 Message rejected as spam. Please set up SPF records and DKIM signing for your "
    "domain."),
  T("rfc:8617", "arc-failure", "arc validation", "authfailure",
    "550 5.7.29 ARC validation failure"),
  W("sender-id", "senderid", "authfailure",
    "550 5.7.1 SenderID check failed for example.org",
    "550 5.7.1 Relay access denied. Please publish SenderID or SPF records."),
  T("rfc:7372", "auth-checks-failed", "authentication checks failed", "authfailure",
    "550 5.7.26 Multiple authentication checks failed"),
  W("unauthenticated-email", "unauthenticated email|sender is unauthenticated", "authfailure",
    "550 5.7.1 Unauthenticated email from example.org is not accepted due to domain's policy",
    "550 5.7.1 Message rejected as spam. To protect our users from unauthenticated email, every "
    "message is checked."),

  /* ---- reverse DNS ------------------------------------------------------- */
  W("reverse-dns", "reverse dns|reverse lookup|rdns|ptr record|(ptr)|ip name lookup failed|ip name possibly "
    "forged|mismatches client ip|unverifyable sending ip|reverse hostname", "requireptr",
    "554 5.7.1 Reverse DNS failed.",
    "550 5.7.1 Relay access denied. Please make sure your server has a PTR record."),

  /* ---- TLS --------------------------------------------------------------- */
  T("mta:postfix", "must-starttls", "must issue a starttls command first", "failedstarttls",
    "530 5.7.0 Must issue a STARTTLS command first"),
  W("tls-required", "starttls is required|starttls required|tls required|tls is required|requires tls", "failedstarttls",
    "530 5.7.0 STARTTLS is required to send mail",
    "550 5.7.1 Relaying denied. Please connect on port 587, where STARTTLS is required."),
  T("rfc:4954", "encryption-required", "encryption required", "failedstarttls",
    "538 5.7.11 Encryption required for requested authentication mechanism"),
  W("no-tls-support", "does not support tls|tls not available|cannot start tls|tls negotiation failed", "failedstarttls",
    "500 Remote server does not support TLS (state 6).",
    "554 5.7.1 Relay access denied. If you cannot start TLS, use port 465."),
  T("rfc:8689", "requiretls", "requiretls", "failedstarttls",
    "550 5.7.30 REQUIRETLS support required"),

  /* ---- content blocklists (URIs in the message) -------------------------- */
  T("provider:uribl", "uribl", "uribl", "spamdetected",
    "554 5.7.1 Message rejected: link to example.net listed in multi.uribl.com"),
  T("provider:surbl", "surbl", "surbl", "spamdetected",
    "554 5.7.1 Rejected: message contains a domain listed by SURBL"),
  W("blacklisted-url", "blacklisted url|url in message", "spamdetected",
    "550 Rejected - Blacklisted URL in message. (example.net)",
    "550 5.7.1 Client host rejected: Access denied. See https://example.net/faq about how a "
    "blacklisted URL in message bodies is handled."),

  /* ---- IP blocklists and blocked hosts ---------------------------------- */
  /* the sender's own address listed, not its host: before "blacklist" */
  W("address-that-blacklisted", "address that has been blacklisted", "rejected",
    "550 Sorry, you are sending to/from an address that has been blacklisted",
    "550 5.7.1 Your IP address is on our blocklist. If you are sending to/from an address that "
    "has been blacklisted, contact us."),
  W("address-blacklisted", "address has been blacklisted", "rejected",
    "550 5.7.1 Your email address has been blacklisted",
    "550 5.7.1 Relaying denied. Please check whether your address has been blacklisted."),
  /* Cloudmark CSI scores the sender's reputation (csi.cloudmark.com): a
   * reputation, not a list of its own */
  T("provider:cloudmark", "cloudmark-csi", "cloudmark csi", "badreputation",
    "554 5.3.2 system not accepting network messages 198.51.100.7 is listed on Cloudmark "
    "CSI-Global"),
  W("blocked-using", "blocked using", "blocked",
    "554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org",
    "550 5.7.1 Message rejected as spam. See http://example.net/why about mail blocked using our "
    "filters."),
  /* the Spamhaus DBL lists domains named in the message, not the sender */
  T("provider:spamhaus", "spamhaus-dbl", "spamhaus dbl", "spamdetected",
    "550 5.7.1 Your email was rejected due to having a domain present in the Spamhaus DBL"),
  T("provider:spamhaus", "spamhaus", "spamhaus", "blocked",
    "550 5.7.1 Mail from IP 198.51.100.7 was rejected due to listing in Spamhaus SBL"),
  T("provider:spamcop", "spamcop", "spamcop", "blocked",
    "554 5.7.1 Rejected: 198.51.100.7 listed at bl.spamcop.net"),
  T("provider:sorbs", "sorbs", "sorbs.net", "blocked",
    "554 5.7.1 Rejected - see http://www.sorbs.net/lookup.shtml?198.51.100.7"),
  T("provider:uceprotect", "uceprotect", "uceprotect", "blocked",
    "550 5.7.1 IP 198.51.100.7 listed by UCEPROTECT-Level2"),
  T("provider:abuseat", "cbl-abuseat", "abuseat.org", "blocked",
    "550 5.7.1 Your IP is in cbl.abuseat.org"),
  T("provider:mailspike", "mailspike", "mailspike", "blocked",
    "554 5.7.1 Rejected: 198.51.100.7 is listed in bl.mailspike.net"),
  T("provider:psbl", "psbl", "psbl.", "blocked",
    "554 5.7.1 Listed in psbl.surriel.com"),
  W("blocklisted-host", "dnsbl|blocklist|block list|blacklist|black list|blackhole| rbl|listed at|is listed in|is "
    "listed on|may not be mail exchanger|dynamic ip|dynamic address|dynamically assigned|dialup|"
    "dial-up|residential|smtp server of your isp|your isp's mail server|ip blocked|ip is blocked|"
    "ip address blocked|ip address is blocked|blocked ip|blocked for abuse|ip banned|not allowed "
    "to connect", "blocked",
    "554 5.7.1 Client IP is listed in a DNSBL",
    "550 5.7.1 Message content rejected. Please contact us if your server is listed at our block "
    "list."),

  /* ---- greylisting: a first refusal that passes on retry; deferred ------ */
  W("greylisted", "greylist|graylist|grey-listed", "onhold",
    "451 4.7.1 <ann@example.org>: Recipient address rejected: Greylisted, see "
    "https://postgrey.example.org/ for explanation",
    "550 5.1.1 <a@example.net>: Recipient address rejected: User unknown. Please note that "
    "greylisting is in use."),

  /* ---- reputation ------------------------------------------------------- */
  W("reputation-phrase", "poor reputation|bad reputation|low reputation|reputation is too low|sender reputation|ip "
    "reputation|domain reputation|reputation score", "badreputation",
    "554 5.7.1 Your access to this mail system has been rejected due to the sending MTA's poor "
    "reputation.",
    "421 4.7.0 Too many connections from your IP. Please see https://example.net/help about "
    "sender reputation."),

  /* ---- connection and rate limits --------------------------------------- */
  /* a session closed after too many protocol errors (Apple's and SFR's
   * "Error: too many errors", NetEase's erroneous commands): the client's
   * SMTP, not its connection count */
  W("too-many-errors", "too many errors", "syntaxerror",
    "421 4.7.0 mx.example.net Error: too many errors",
    "550 5.1.1 User unknown. Please clean your list to avoid too many errors."),
  W("too-many-connections", "too many connections|too many concurrent|too many simultaneous|too many smtp sessions|"
    "too many sessions|connection rate limit|connection limit|maximum number of connections|per "
    "connection|too many recipients|recipient limit", "toomanyconn",
    "421 4.7.0 Too many connections from your IP",
    "550 5.1.1 User unknown. Please do not open too many connections to try other addresses."),
  W("sending-rate", "too many messages|too many emails|rate limit|ratelimit|rate-limit|sending rate|sending "
    "limit|throttl|too fast|mail flood|try again slower|sending quota", "speeding",
    "421 4.7.0 Too many messages from your IP, try again later",
    "552 5.2.2 Mailbox full. Please do not retry too fast."),

  /* ---- viruses and malware ---------------------------------------------- */
  W("virus-detected", "virus detected|virus found|contains a virus", "virusdetected",
    "550 5.7.1 Virus detected: Eicar-Test-Signature",
    "550 5.7.1 Relay access denied. Please read our FAQ on mail with a virus detected in it."),
  T("mta:amavis", "infected", "infected", "virusdetected",
    "554 5.7.0 Reject, id=12345-06 - INFECTED: Win.Trojan.Agent"),
  W("malware", "malware|malicious", "virusdetected",
    "550 5.7.1 Message rejected: malware detected",
    "554 5.7.1 Relay access denied. To protect our users from malware, we relay for customers "
    "only."),

  /* ---- spam ------------------------------------------------------------- */
  W("spam-detected", "spam detected", "spamdetected",
    "550 5.7.1 Spam detected",
    "550 5.7.1 Relay access denied. Please read our FAQ about what happens when spam detected on "
    "our network."),
  T("mta:amavis", "ube", "content rejected, ube", "spamdetected",
    "550 5.7.1 Message content rejected, UBE, id=12345-01-2"),
  W("unsolicited", "unsolicited|bulk mail|bulk email|junk mail|phishing|content filter|message content rejected|"
    "unacceptable content|score too high", "spamdetected",
    "550 5.7.1 Message refused: unsolicited bulk mail",
    "421 4.7.0 Too many connections from your IP. To reduce unsolicited mail, each IP may open 5 "
    "connections."),

  /* ---- policy ----------------------------------------------------------- */
  W("policy-violation", "policy violation|violates our|denied by policy|rejected by policy|for policy reason|local "
    "policy|policy restriction", "policyviolation",
    "550 5.7.0 Local Policy Violation",
    "550 5.1.1 User unknown. Please read our local policy on address harvesting."),
  WC("protocol-violation-4", "protocol violation", "syntaxerror", NULL, "4.5.",
     "451 4.5.0 SMTP protocol violation, see RFC 2821",
     "451 4.5.0 Too many errors (protocol violation)"),
  WC("protocol-violation-5", "protocol violation", "syntaxerror", NULL, "5.5.",
     "554 5.5.1 SMTP protocol violation",
     "554 5.5.1 Too many errors: protocol violation"),
  W("protocol-violation", "protocol violation|attachment not allowed|banned attachment|prohibited attachment|file type "
    "not allowed", "policyviolation",
    "550 Protocol violation",
    "550 5.7.1 Message content rejected. Please see our policy on banned attachment types."),
  T("mta:amavis", "amavis-banned", "banned:", "policyviolation",
    "554 5.7.0 Reject, id=12345-03 - BANNED: application/x-msdownload"),

  /* ---- content and MIME --------------------------------------------------- */
  W("content-restrictions", "content restriction|headers too large", "contenterror",
    "550 5.7.1 Message rejected due to content restrictions",
    "552 5.3.4 Message too large. Please read our content restrictions before resending."),
  W("header-size", "header size exceeds", "exceedlimit",
    "552 5.3.4 Message header size exceeds limit",
    "552 5.3.4 Message too large. If you find the header size exceeds 64 KB, trim it too."),
  W("invalid-mime", "invalid mime|mime complexity|improperly-formatted binary content|unnecessary base64|corrupt "
    "message content|media error|conversion failed|8-bit data not accepted", "contenterror",
    "554 5.6.0 This message contains invalid MIME headers",
    "554 5.7.1 Message content rejected. Please avoid unnecessary base64 encoding."),

  /* ---- relaying ------------------------------------------------------------ */
  T("mta:postfix", "relay-access-denied", "relay access denied", "norelaying",
    "554 5.7.1 <a@example.org>: Relay access denied"),
  W("relaying-denied", "relaying denied|relay denied|unable to relay|relay not permitted|not permitted to relay|"
    "relaying not allowed|relay not allowed|relaying disallowed|relay prohibited|relaying "
    "prohibited|not configured to relay|we do not relay|insecure mail relay|no relaying|does not "
    "relay", "norelaying",
    "550 5.7.1 <a@example.org>... Relaying denied. Proper authentication required.",
    "550 5.1.1 User unknown. Please note that we do not relay for other domains."),

  /* ---- SMTP authentication -------------------------------------------------- */
  T("rfc:4954", "authentication-required", "authentication required", "securityerror",
    "530 5.7.0 Authentication required"),
  W("authentication-is-required", "authentication is required|must authenticate|unauthenticated senders|not authenticated|"
    "authentication failed", "securityerror",
    "530 5.7.1 Authentication is required to send mail",
    "550 5.7.1 Relaying denied. Authentication is required for relaying."),
  T("rfc:4954", "credentials-invalid", "credentials invalid", "securityerror",
    "535 5.7.8 Authentication credentials invalid"),
  W("invalid-credentials", "invalid credentials", "securityerror",
    "535 5.7.1 Invalid credentials for relay",
    "550 5.7.1 Relaying denied: invalid credentials for relay"),

  /* ---- the sender --------------------------------------------------------- */
  T("mta:postfix", "sender-address-rejected", "sender address rejected", "rejected",
    "553 5.1.8 <bounce@example.org>: Sender address rejected: Domain not found"),
  W("sender-refused", "sender address does not exist|sender rejected|sender denied|domain of sender address|sender "
    "domain|sender's domain", "rejected",
    "550 5.1.7 Sender address does not exist",
    "550 5.1.1 User unknown. Please check the sender domain as well."),
  T("rfc:7505", "sender-null-mx", "sender address has null mx", "rejected",
    "550 5.7.27 Sender address has null MX"),
  W("unroutable-sender", "unroutable sender|unrouteable sender|invalid sender|bad sender|sender not allowed|sender "
    "blocked|sender is blocked|null sender|empty envelope sender|mail from rejected|batv", "rejected",
    "550 Unroutable sender address",
    "550 5.1.1 <a@example.net>... User unknown. Please note that mail from a null sender is "
    "taken for postmaster only."),
  T("rfc:3463", "delivery-not-authorized", "delivery not authorized", "rejected",
    "571 Delivery not authorized, message refused"),

  /* ---- SMTP syntax ----------------------------------------------------------- */
  T("rfc:5321", "syntax-error", "syntax error", "syntaxerror",
    "501 5.5.2 Syntax error in parameters or arguments"),
  T("rfc:5321", "command-unrecognized", "command unrecognized", "syntaxerror",
    "500 5.5.1 Command unrecognized: \"XFOO\""),
  W("unrecognized-command", "unrecognized command|unrecognised command|unknown command|invalid command", "syntaxerror",
    "500 5.5.2 Error: unrecognized command",
    "550 5.1.1 User unknown. Please report any unknown command errors to the postmaster."),
  T("rfc:5321", "command-not-implemented", "command not implemented", "syntaxerror",
    "502 5.5.1 Command not implemented"),
  T("rfc:5321", "parameter-not-implemented", "parameter not implemented", "syntaxerror",
    "504 5.5.4 Command parameter not implemented"),
  T("rfc:5321", "parameters-not-recognized", "parameters not recognized", "syntaxerror",
    "555 5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented"),
  T("rfc:5321", "sequence-of-commands", "sequence of commands", "syntaxerror",
    "503 5.5.1 Bad sequence of commands"),
  W("helo-first", "ehlo first|need fully-qualified", "syntaxerror",
    "503 5.5.1 Error: send HELO/EHLO first",
    "550 5.1.1 User unknown. Please send EHLO first next time."),
  T("rfc:5321", "line-too-long", "line too long", "syntaxerror",
    "500 5.5.2 Line too long"),

  /* ---- mailbox full ---------------------------------------------------------- */
  W("mailbox-full", "mailfolder is full|messages in recipient's mailbox exceeded|exhausted allowed storage|mailbox full|mailbox is full|"
    "inbox is full|mailbox size limit exceeded", "mailboxfull",
    "The e-mail message could not be delivered because the user's mailfolder is full.",
    "552 5.2.2 Your mailbox is full: you cannot send until you delete mail (in reply to MAIL "
    "FROM command)"),
  T("rfc:5321", "storage-allocation", "exceeded storage allocation", "mailboxfull",
    "552 Requested mail action aborted: exceeded storage allocation"),
  W("over-quota", "over quota|overquota|quota exceeded|exceeds quota|mailbox has exceeded|account is full|"
    "storage limit|not enough space", "mailboxfull",
    "552 5.2.2 <a@example.org>: user is over quota",
    "550 5.4.5 Daily sending quota exceeded. - gsmtp"),

  /* ---- message size ------------------------------------------------------- */
  T("rfc:3463", "exceeds-admin-limit", "exceeds administrative limit", "exceedlimit",
    "552 5.2.3 Message length exceeds administrative limit"),
  W("limit-set-by-recipient", "limit set by recipient", "exceedlimit",
    "552 5.2.3 Message size exceeds limit set by recipient",
    "552 5.3.4 Message too large. Please stay below the limit set by recipient domains."),
  T("rfc:3463", "message-too-big", "message too big", "mesgtoobig",
    "552 5.3.4 Message too big for system"),
  W("message-too-large", "message too large|message size exceeds|size limit exceeded|exceeds size limit|maximum "
    "message size|max message size|line limit exceeded|taille limite", "mesgtoobig",
    "552 5.3.4 Message too large",
    "552 5.2.2 Mailbox full. Please do not resend: message too large for the space left."),

  /* ---- system capacity -------------------------------------------------------- */
  T("rfc:5321", "insufficient-system-storage", "insufficient system storage", "systemfull",
    "452 4.3.1 Insufficient system storage"),
  W("insufficient-disk-space", "insufficient disk space", "systemfull",
    "452 4.4.5 Insufficient disk space; try again later",
    "452 4.2.2 Mailbox full. Please retry later if you see insufficient disk space."),
  T("rfc:3463", "mail-system-full", "mail system full", "systemfull",
    "452 4.3.1 Mail system full"),
  W("no-space-left", "no space left on device", "systemfull",
    "451 4.3.0 Write failed: No space left on device",
    "452 4.2.2 Mailbox full. If you see no space left on device, retry later."),

  /* ---- disabled or suspended accounts ---------------------------------------- */
  W("account-disabled", "account disabled|recipient disabled|account is disabled|account has been disabled", "suspend",
    "550 5.2.1 Account disabled",
    "550 5.2.1 Account disabled (in reply to MAIL FROM command)"),
  T("rfc:3463", "mailbox-disabled", "mailbox disabled", "suspend",
    "550 5.2.1 Mailbox disabled, not accepting messages"),
  W("mailbox-suspended", "mailbox has been disabled|mailbox is disabled|disabled recipient|account suspended|has been "
    "suspended|is suspended|mailbox inactive|mailbox is inactive|account is inactive|mailbox is "
    "frozen|temporarily locked|temporary locked|account is locked|account has expired|not "
    "accepting messages|due to extended inactivity", "suspend",
    "550 5.2.1 <a@example.org>: Recipient address rejected: this mailbox has been disabled",
    "550 5.7.1 Your mailbox is suspended for sending spam (in reply to MAIL FROM command)"),

  /* ---- refused by the recipient's own filters -------------------------------- */
  W("recipient-filter", "refuses to accept|refuse to receive|have been blocked by the recipient|only accepting mail "
    "from specific|message filtered|user reject ", "filtered",
    "550 5.7.1 User refuses to accept mail from this sender",
    "550 5.1.1 User unknown. Please note that the recipient refuses to accept mail from unknown "
    "senders."),

  /* ---- local delivery: procmail's own complaints are about the delivery
   * itself ("Couldn't create ... No such user": no mailbox file for a local
   * account), not about the address ----------------------------------------- */
  T("mta:procmail", "procmail", "procmail:", "mailererror",
    "procmail: Couldn't create \"/var/spool/mail/a\""),

  /* ---- moved addresses -------------------------------------------------------- */
  W("replaced-by", "has been replaced by", "hasmoved",
    "550 5.1.6 a@example.org has been replaced by b@example.net",
    "550 5.1.6 <bounce@example.org> has been replaced by <new@example.org> (in reply to MAIL "
    "FROM command)"),
  T("rfc:3463", "no-forwarding", "no forwarding address", "hasmoved",
    "550 5.1.6 Destination mailbox has moved, no forwarding address"),
  W("has-moved", "has moved", "hasmoved",
    "551 5.1.6 User has moved; please try <b@example.net>",
    "550 5.1.1 User unknown. Please note that our office has moved."),
  T("rfc:5321", "user-not-local", "user not local", "hasmoved",
    "551 User not local; please try <b@example.net>"),

  /* ---- unknown recipients ------------------------------------------------------ */
  W("user-unknown", "user unknown|unknown user|no such user|no such local user|user not found|user not exist|"
    "user does not exist|user doesn't exist|user is unknown|recipient is unknown|unknown "
    "recipient|recipient unknown|invalid recipient|recipient not found|recipient does not exist|"
    "recipient address does not exist|address does not exist|account does not exist|mailbox does "
    "not exist|mailbox not found|no such mailbox|no such recipient|no such address|no such "
    "account|unknown mailbox|mailbox unknown|unknown address|address unknown|invalid mailbox|"
    "unknown local part|unknown local-part|unknown or illegal user", "userunknown",
    "550 5.1.1 User unknown",
    "553 5.1.1 <bounce@example.org>... User unknown (in reply to MAIL FROM command)"),
  W("bad-recipient", "bad recipient|not a valid mailbox", "userunknown",
    "550 5.1.1 Bad recipient address",
    "550 5.7.1 Relaying denied for bad recipient <a@example.net>"),
  T("rfc:5321", "mailbox-name-not-allowed", "mailbox name not allowed", "userunknown",
    "553 Requested action not taken: mailbox name not allowed"),
  TC("rfc:5321", "mailbox-unavailable", "mailbox unavailable", "userunknown", "55", NULL,
     "550 Requested action not taken: mailbox unavailable"),
  WC("address-rejected", "address rejected", "userunknown", "55", "5.1.0",
     "550 #5.1.0 Address rejected.",
     "550 5.1.0 <bounce@example.org>: Sender address rejected: Domain not found"),

  /* ---- unknown hosts and domains, domains that take no mail -------------------- */
  W("host-unknown", "host unknown|unknown host", "hostunknown",
    "550 Host unknown",
    "553 5.1.8 <bounce@example.org>... Domain of sender address bounce@example.org does not "
    "exist: host unknown"),
  /* Exim: no router could take the domain */
  T("mta:exim", "unrouteable-address", "unrouteable address", "hostunknown",
    "550 Unrouteable address"),
  /* DragonFly's dma: an NXDOMAIN answer for the recipient's host */
  T("mta:dma", "dma-host-not-found", "dns lookup failure: host", "hostunknown",
    "DNS lookup failure: host mx.example.invalid not found"),
  W("domain-not-found", "host not found|domain not found|no such domain|domain does not exist|unknown domain|invalid "
    "domain|non-existent domain", "hostunknown",
    "550 5.1.2 Host not found",
    "553 5.1.8 <bounce@example.invalid>: Sender address rejected: Domain not found"),
  /* a receiver that refuses mail from someone still takes mail */
  W("not-accept-mail-from", "does not accept mail from", "rejected",
    "550 5.7.1 example.net does not accept mail from your domain",
    "550 5.1.1 User unknown. Please note that example.net does not accept mail from free mail "
    "domains."),
  W("not-accepting-mail-from", "not accepting mail from", "rejected",
    "550 5.7.1 We are not accepting mail from this sender",
    "550 5.1.1 User unknown: we are not accepting mail from this sender for that address"),
  T("rfc:7505", "null-mx", "null mx", "notaccept",
    "556 5.1.10 Recipient address has null MX"),
  T("rfc:7504", "does-not-accept-mail", "does not accept mail", "notaccept",
    "550 Host does not accept mail"),
  W("not-accepting-mail", "not accepting mail|accepts no mail", "notaccept",
    "521 5.3.2 This host is not accepting mail",
    "550 5.7.1 We are not accepting mail from your domain"),
  W("no-mx-no-a-record", "no mx and no a record", "hostunknown",
    "550 Domain has no MX and no A record",
    "553 5.1.8 <bounce@example.org>: Sender address rejected: domain has no MX and no A record"),
  W("no-mx-record", "no mx record", "notaccept",
    "550 5.4.4 Domain has no MX record",
    "553 5.1.8 <bounce@example.org>: Sender address rejected: no MX record for domain"),

  /* ---- local delivery agents: after the address and host reasons, so that a
   * program's own output ("Command died with status 67 ... user unknown")
   * decides, and `mailererror` where it says nothing more ---------------- */
  W("mailer-error", "mailer error", "mailererror",
    "554 5.3.0 unknown mailer error 75",
    "554 5.3.0 Please contact the postmaster about this mailer error: user unknown"),
  T("mta:postfix", "command-died", "command died with status", "mailererror",
    "Command died with status 1: \"/usr/local/bin/filter\""),
  W("command-failed", "command failed:", "mailererror",
    "Command failed: /usr/bin/deliver exit status 75",
    "550 5.1.1 User unknown. Please ignore a command failed: line in the log"),
  T("mta:exim", "pipe-to", "pipe to |", "mailererror",
    "Child process of local_delivery transport returned 69 (could mean service or program "
    "unavailable) from command: pipe to |/usr/bin/filter"),

  /* ---- gave up after retrying ---------------------------------------------- */
  W("message-expired", "message expired", "expired",
    "554 4.4.7 Message expired: unable to deliver in 840 minutes.",
    "451 4.7.1 <a@example.net>: Recipient address rejected: Greylisted (message expired from the "
    "triplet list)"),
  T("rfc:3463", "delivery-time-expired", "delivery time expired", "expired",
    "4.4.7 Delivery time expired"),
  W("could-not-be-delivered-for", "could not be delivered for|could not deliver for the last", "expired",
    "This message could not be delivered for 5 days.",
    "552 5.2.2 Mailbox full: this message could not be delivered for lack of space"),
  T("mta:opensmtpd", "opensmtpd-envelope-expired", "envelope expired", "expired",
    "a@example.org: Envelope expired"),
  /* OpenSMTPD's one-line causes in its failure and delay notices */
  T("mta:opensmtpd", "opensmtpd-network-error", "network error on destination mx", "networkerror",
    "a@example.org: Network error on destination MXs"),
  T("mta:opensmtpd", "opensmtpd-no-mx", "no mx found for domain", "notaccept",
    "a@example.org: No MX found for domain"),
  T("mta:exim", "failing-for-a-long-time", "have been failing for a long time", "expired",
    "all hosts for 'example.net' have been failing for a long time (and retry time not reached)"),

  /* ---- network -------------------------------------------------------------- */
  T("rfc:3463", "routing-loop", "routing loop", "networkerror",
    "554 5.4.6 Routing loop detected"),
  W("network-failure", "mail loop|hop count exceeded|no route to host|network is unreachable|connection refused|"
    "connection reset|dns lookup fail", "networkerror",
    "554 5.4.6 Hop count exceeded - possible mail loop",
    "421 4.7.0 Too many connections from your IP, connection refused"),

  /* ---- timeouts: in a bounce, the last error before the queue gave up ------------ */
  W("connection-timed-out", "connection timed out|timed out|host not reachable", "expired",
    "connect to mx.example.net[203.0.113.9]:25: Connection timed out",
    "450 4.7.1 Greylisted: your previous attempt timed out"),

  /* ---- the receiving system ------------------------------------------------------ */
  W("internal-error", "internal error|internal server error|system error", "systemerror",
    "451 4.3.0 Internal error, please try later",
    "552 5.2.2 Mailbox full (internal error 552)"),
  T("rfc:5321", "local-error", "local error in processing", "systemerror",
    "451 4.3.0 Requested action aborted: local error in processing"),
  W("temporary-local-problem", "temporary local problem|service currently unavailable|unable to contact ldap server|"
    "insufficient permission|misconfigured|configuration error", "systemerror",
    "451 4.3.0 Temporary local problem - please try later",
    "452 4.2.2 Mailbox full, service currently unavailable for this user"),

  /* ---- generic words, after every specific phrase -------------------------------- */
  W("on-hold", " on hold", "onhold",
    "450 4.2.0 Message on hold for review",
    "550 5.1.1 User unknown. Please do not put delivery on hold."),
  W("spam", "spam", "spamdetected",
    "550 5.7.1 Message rejected as spam",
    "450 4.7.1 Your sending rate is too high. To protect our users from spam, please slow down."),
  W("virus", "virus", "virusdetected",
    "554 5.7.1 Rejected: the virus scanner reports a problem",
    "550 5.7.1 Relay access denied. Please run a virus scan on your server."),
  W("quota", "quota", "mailboxfull",
    "552 5.2.2 Quota for a@example.org reached",
    "550 5.4.5 You have reached your sending quota for today"),
  W("open-relay", "open relay|open proxy", "blocked",
    "501 <a@example.org>... no access from mail server [198.51.100.7] which is an open relay.",
    "550 5.7.1 Relaying denied. Please do not configure your server as an open relay."),
  T("mta:postfix", "client-host-rejected", "client host rejected", "blocked",
    "554 5.7.1 <unknown[198.51.100.7]>: Client host rejected: Access denied"),
  T("rfc:5321", "no-smtp-service", "no smtp service here", "blocked",
    "554 mx.example.net No SMTP service here"),
  W("blocked-by", "blocked by", "blocked",
    "550 198.51.100.7 blocked by ldap:ou=mail,dc=example,dc=net",
    "550 5.7.1 Message content rejected, blocked by our filters"),
  W("reputation", "reputation", "badreputation",
    "550 5.7.1 Rejected for reputation reasons",
    "550 5.1.1 User unknown. Please see https://example.net/reputation"),
  W("access-denied", "access denied", "rejected",
    "550 5.7.1 Access denied",
    "550 5.4.1 Recipient address rejected: Access denied. "
    "[DB5EUR01FT002.eop-EUR01.prod.protection.outlook.com]"),
  /* Exim refusing a recipient it cannot parse */
  T("mta:exim", "malformed-address", "malformed address", "syntaxerror",
    "a@example.com <b@example.net>: malformed address: <b@example.net> may not follow "
    "a@example.com"),
  /* qmail-send giving up ("I'm not going to try again; this message has been
     * in the queue too long."): expired, unless the cause it quotes says more */
  T("mta:qmail", "qmail-queue-too-long", "in the queue too long", "expired",
    "I'm not going to try again; this message has been in the queue too long."),
  /* Last, so that a cause any rule reads wins over them: the MTA stopped
   * retrying (the queue lifetime ran out) */
  W("gave-up", "gave up on|gave up after|gave up trying|retry time exceeded|retry timeout exceeded|too long in "
    "queue|too long in the queue|maximum queue time|queue lifetime", "expired",
    "Delivery failed: retry time exceeded for b@example.net",
    "550 5.1.1 User unknown. Please do not resend: the sender gave up on this address?"),
  /* a delay notice's own words (RFC 3464 "delayed": not yet delivered,
   * still retrying): the message has been queued too long, the same reason
   * as a DSN's Action: delayed gives; the record is a warning, not a failure */
  W("delay-notice", "will be retried for|will retry for|will continue to attempt|will keep trying|still trying to "
    "deliver|has not yet been delivered|have not yet been delivered|not yet been delivered|delivery has been "
    "delayed|delivery to the following recipient has been delayed|message delayed", "expired",
    "Delivery to the following recipient has been delayed: b@example.net. Message will be retried "
    "for 2 more day(s)",
    "450 4.2.0 Greylisted, please try again: your message delayed by 5 minutes is not yet accepted"),
};

const size_t bnc_generic_rules_count =
  sizeof bnc_generic_rules / sizeof bnc_generic_rules[0];
