"""The script of the MTA zoo: the remote domains, what their servers answer,
what each answer means, and the messages every MTA is given.

This file is the ground truth of the fixtures. Every reply below is written
for this project in the wording that /work/shared/reference/providers.md
documents for a provider (its section is named in `src`), and carries the
reason and type a careful analyst gives it, following the reference's
suggested reasons and the reason table of `bin/bounce reasons`. Nothing here
was derived from running bounce.

Placeholders in reply text: {client} the connecting MTA's IP address,
{rcpt} the recipient address, {sender} the envelope sender, {sdomain} the
sender's domain, {id} a short token that stays the same between runs.
"""

# --- reasons and their type (the table of `bin/bounce reasons`) ----------

HARD = {"userunknown", "hostunknown", "hasmoved", "notaccept"}


def is_hard(reason, temporary):
    """A reason is hard when its type is hard; notaccept is soft when 4xx."""
    if temporary:
        return False
    return reason in HARD


# --- replies ---------------------------------------------------------------

class Reply:
    """One scripted SMTP reply.

    code: the basic reply code; enh: the enhanced status code or None;
    lines: the text lines (without code); repeat: the enhanced code is
    written on every line of a multi-line reply (Gmail does it), else only
    on the last one (or nowhere when enh is None); reason: what it means;
    src: where the wording comes from (the reference's section).
    """

    def __init__(self, rid, code, enh, lines, reason, src, repeat=True):
        self.id = rid
        self.code = code
        self.enh = enh
        self.lines = lines if isinstance(lines, list) else [lines]
        self.reason = reason
        self.src = src
        self.repeat = repeat

    @property
    def temporary(self):
        return 400 <= self.code < 500

    def wire(self, **values):
        """The reply as sent: CRLF-separated lines, continuation marks."""
        out = []
        n = len(self.lines)
        for i, text in enumerate(self.lines):
            text = text.format(**values)
            last = i == n - 1
            sep = " " if last else "-"
            enh = ""
            if self.enh and (self.repeat or last):
                enh = self.enh + " "
            out.append("%d%s%s%s" % (self.code, sep, enh, text))
        return "\r\n".join(out)


REPLIES = {}


def R(rid, code, enh, lines, reason, src, repeat=True):
    REPLIES[rid] = Reply(rid, code, enh, lines, reason, src, repeat)
    return rid


# Google (reference section 2): every line repeats the code, ends "- gsmtp".
R("g-nouser", 550, "5.1.1", [
    "The email account that you tried to reach does not exist. Please try",
    "double-checking the recipient's email address for typos or",
    "unnecessary spaces. For more information, go to",
    " https://support.google.com/mail/?p=NoSuchUser {id} - gsmtp"],
  "userunknown", "providers.md 2 (550 5.1.1, P,B)")
R("g-disabled", 550, "5.2.1", [
    "The email account that you tried to reach is disabled. Learn more at",
    " https://support.google.com/mail/?p=DisabledUser {id} - gsmtp"],
  "suspend", "providers.md 2 (550 5.2.1)")
R("g-overquota", 552, "5.2.2", [
    "The email account that you tried to reach is over quota. Please direct",
    "the recipient to",
    " https://support.google.com/mail/?p=OverQuotaPerm {id} - gsmtp"],
  "mailboxfull", "providers.md 2 (552 5.2.2)")
R("g-overquota-temp", 452, "4.2.2", [
    "The email account that you tried to reach is over quota. Please direct",
    "the recipient to",
    " https://support.google.com/mail/?p=OverQuotaTemp {id} - gsmtp"],
  "mailboxfull", "providers.md 2 (452 4.2.2, P)")
R("g-ratelimit", 450, "4.2.1", [
    "The user you are trying to contact is receiving mail too quickly.",
    "Please resend your message at a later time. If the user is able to",
    "receive mail at that time, your message will be delivered. For more",
    "information, go to",
    " https://support.google.com/mail/?p=ReceivingRate {id} - gsmtp"],
  "speeding", "providers.md 2 (450 4.2.1, P)")
R("g-spam", 550, "5.7.1", [
    "[{client}] Our system has detected that this message is",
    "likely unsolicited mail. To reduce the amount of spam sent to Gmail,",
    "this message has been blocked. For more information, go to",
    " https://support.google.com/mail/?p=UnsolicitedMessageError",
    " {id} - gsmtp"],
  "spamdetected", "providers.md 2 (550 5.7.1 likely unsolicited, B)")
R("g-ipspam", 550, "5.7.1", [
    "[{client}] Our system has detected an unusual rate of",
    "unsolicited mail originating from your IP address. To protect our",
    "users from spam, mail sent from your IP address has been blocked.",
    "Please visit",
    " https://support.google.com/mail/?p=UnsolicitedIPError to review our",
    "Bulk Email Senders Guidelines. {id} - gsmtp"],
  "badreputation", "providers.md 2 (550 5.7.1 UnsolicitedIPError, B)")
R("g-unauth", 550, "5.7.26", [
    "This mail has been blocked because the sender is unauthenticated.",
    "Gmail requires all senders to authenticate with either SPF or DKIM.",
    "",
    " Authentication results:",
    " DKIM = did not pass",
    " SPF [{sdomain}] with ip: [{client}] = did not pass",
    "",
    " For instructions on setting up authentication, go to",
    " https://support.google.com/mail/answer/81126#authentication {id} - gsmtp"],
  "authfailure", "providers.md 2 (550 5.7.26 sender is unauthenticated, B)")
R("g-dmarc", 550, "5.7.26", [
    "Unauthenticated email from {sdomain} is not accepted due to domain's",
    "DMARC policy. Please contact the administrator of {sdomain} domain if",
    "this was a legitimate mail. To learn about the DMARC initiative, go to",
    " https://support.google.com/mail/?p=DmarcRejection {id} - gsmtp"],
  "authfailure", "providers.md 2 (550 5.7.26 DMARC policy, B)")
R("g-rfc5322", 550, "5.7.1", [
    "[{client}] This message is not RFC 5322 compliant. There are",
    "multiple From headers. To reduce the amount of spam sent to Gmail,",
    "this message has been blocked. For more information, go to",
    " https://support.google.com/mail/?p=RfcMessageNonCompliant",
    " {id} - gsmtp"],
  "notcompliantrfc", "providers.md 2 (550 5.7.1 not RFC 5322 compliant, B)")
R("g-size", 552, "5.2.3", [
    "Your message exceeded Google's message size limits. For more",
    "information, go to",
    " https://support.google.com/mail/?p=MaxSizeError {id} - gsmtp"],
  "mesgtoobig", "providers.md 2 (552 5.2.3)")
R("g-virus", 552, "5.7.0", [
    "This message was blocked because its content presents a potential",
    "security issue. To review our message content and attachment content",
    "guidelines, go to",
    " https://support.google.com/mail/?p=BlockedMessage {id} - gsmtp"],
  "virusdetected", "providers.md 2 (550/552 5.7.0 potential security issue, B)")
R("g-gcdp", 550, "5.7.1", [
    "This message violates google.example.org email policy. - gcdp {id} - gsmtp"],
  "policyviolation", "providers.md 2 (550 5.7.1 custom rule, P)")
R("g-tempfail", 451, "4.3.0", [
    "Mail server temporarily rejected message. {id} - gsmtp"],
  "systemerror", "providers.md 2 (451 4.3.0, P)")

# Microsoft (section 3): one line, bracketed server name at the end.
MS_HOST = "[AM7EUR03FT021.eop-EUR03.prod.protection.outlook.example.org {id}]"
R("ms-notfound", 550, "5.1.10", [
    "RESOLVER.ADR.RecipientNotFound; Recipient {rcpt} not found by SMTP "
    "address lookup " + MS_HOST],
  "userunknown", "providers.md 3 (550 5.1.10, B)")
R("ms-exrecip", 550, "5.1.1", [
    "RESOLVER.ADR.ExRecipNotFound; not found " + MS_HOST],
  "userunknown", "providers.md 3 (550 5.1.1, P)")
R("ms-dbeb", 550, "5.4.1", [
    "Recipient address rejected: Access denied. AS(201806281) " + MS_HOST],
  "userunknown", "providers.md 3 (550 5.4.1 Directory-Based Edge Blocking, B,3)")
R("ms-dmarc", 550, "5.7.509", [
    "Access denied, sending domain {sdomain} does not pass DMARC "
    "verification and has a DMARC policy of reject. " + MS_HOST],
  "authfailure", "providers.md 3 (550 5.7.509)")
R("ms-authlevel", 550, "5.7.515", [
    "Access denied, sending domain {sdomain} does not meet the required "
    "authentication level. The sender's domain must pass SPF, DKIM and "
    "DMARC checks to send to outlook.example.org. " + MS_HOST],
  "authfailure", "providers.md 3 (550 5.7.515, P)")
R("ms-tenantrelay", 550, "5.7.64", [
    "TenantAttribution; Relay Access Denied " + MS_HOST],
  "norelaying", "providers.md 3 (550 5.7.64, B)")
R("ms-banned", 550, "5.7.606", [
    "Access denied, banned sending IP [{client}]. To request removal from "
    "this list please visit https://sender.office.com/ and follow the "
    "directions. AS(1430) " + MS_HOST],
  "blocked", "providers.md 3 (550 5.7.606-649, B)")
R("ms-s3150", 550, "5.7.1", [
    "Unfortunately, messages from [{client}] weren't sent. Please contact "
    "your Internet service provider since part of their network is on our "
    "block list (S3150). You can also refer your provider to "
    "http://mail.live.com/mail/troubleshooting.aspx#errors. "
    "[DB5EUR03FT010.eop-EUR03.prod.protection.outlook.example.org {id}]"],
  "blocked", "providers.md 3 (550 5.7.1 S3150, B)")
R("ms-reputation-temp", 451, "4.7.650", [
    "The mail server [{client}] has been temporarily rate limited due to IP "
    "reputation. For e-mail delivery information, see "
    "https://postmaster.live.com (S775) " + MS_HOST],
  "badreputation", "providers.md 3 (451 4.7.650)")

# Yahoo / AOL (section 4): "dd" replies without enhanced codes, at end of DATA.
Y_MTA = "mta1014.mail.ne1.yahoo.example.org"
R("y-dd-nouser", 554, None, [
    "delivery error: dd This user doesn't have a yahoo.example.org account "
    "({rcpt}) [0] - " + Y_MTA],
  "userunknown", "providers.md 4 (554 dd no account, P,B)")
R("y-dd-disabled", 554, None, [
    "delivery error: dd Sorry your message to {rcpt} cannot be delivered. "
    "This account has been disabled or discontinued [#102]. - " + Y_MTA],
  "suspend", "providers.md 4 (554 dd disabled, B)")
R("y-dd-quota", 554, None, [
    "delivery error: dd Sorry, your message to {rcpt} cannot be delivered. "
    "This account is over quota. - " + Y_MTA],
  "mailboxfull", "providers.md 4 (554 dd over quota, P)")
R("y-ph01", 554, None, [
    "Message not allowed - [PH01] Email not accepted for policy reasons.  "
    "Please visit https://postmaster.yahooinc.com/error-codes"],
  "policyviolation", "providers.md 4 (554 PH01, B)")
R("y-579", 554, "5.7.9", [
    "Message not accepted for policy reasons.  See "
    "https://postmaster.yahooinc.com/error-codes"],
  "policyviolation", "providers.md 4 (554 5.7.9, B,3)")
R("y-ts01", 421, "4.7.0", [
    "[TS01] Messages from {client} temporarily deferred due to user "
    "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"],
  "badreputation", "providers.md 4 (421 4.7.0 TS01, P)")
R("y-bl21", 553, "5.7.1", [
    "[BL21] Connections will not be accepted from {client}, because the ip "
    "is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes"],
  "blocked", "providers.md 4 (553 5.7.1 BLxx, 3)")

# United Internet (section 9): no enhanced codes, the last line decides.
R("gmx-unavailable", 550, None, [
    "Requested action not taken: mailbox unavailable",
    "For explanation visit https://postmaster.gmx.net/en/case?c=hi&i=ip&v={client}&r={id}"],
  "userunknown", "providers.md 9 (550 mailbox unavailable, 3,B)")
R("webde-quota", 550, None, [
    "Benutzer hat das Speichervolumen ueberschritten. / User has exhausted "
    "allowed storage space."],
  "mailboxfull", "providers.md 9 (550 web.de quota, B)")
R("webde-unknown", 550, None, ["Benutzer nicht bekannt/User unknown"],
  "userunknown", "providers.md 9 (550 web.de unknown, B)")
R("ionos-policy", 550, None, [
    "Reject due to policy restrictions.",
    "For explanation visit https://postmaster.1and1.com/en/error-messages?ip={client}&c=poli"],
  "policyviolation", "providers.md 9 (550 policy restrictions, B)")
R("gmx-policy-temp", 450, None, [
    "Reject due to policy violations.",
    "For explanation visit https://postmaster.gmx.net/en/case?c=rs&i=ip&v={client}&r={id}"],
  "badreputation", "providers.md 9 (450 policy violations, B)")
R("gmx-blocklisted", 554, None, [
    "gmx.example.org (mxgmx017) Nemesis ESMTP Service not available",
    "No SMTP service",
    "IP address is block listed.",
    "For explanation visit https://postmaster.gmx.net/en/case?c=r0201&i=ip&v={client}&r={id}"],
  "blocked", "providers.md 9 (554 block listed, P)")

# Deutsche Telekom (section 10)
R("tonline-bl", 554, None, [
    "IP={client} - A problem occurred. (Ask your postmaster for help or to "
    "contact tosa@rx.t-online.de to clarify.) (BL)"],
  "blocked", "providers.md 10 (554 (BL), B)")
R("tonline-unknown", 550, "5.1.1", ["<{rcpt}>: user unknown"],
  "userunknown", "providers.md 10 (550 5.1.1, B)")
R("tonline-quota", 552, "5.2.2", ["<{rcpt}>: Over STORAGE quota"],
  "mailboxfull", "providers.md 10 (552 5.2.2, B)")

# Orange, La Poste, Free, SFR (sections 6-8)
R("orange-506", 550, "5.2.0", ["Mail rejete. Mail rejected. ofr_506 [506]"],
  "spamdetected", "providers.md 6 (550 5.2.0 ofr_506, B)")
R("orange-999-temp", 421, None, [
    "mwinf5c21 ME Service refuse. Veuillez essayer plus tard. Service "
    "refused, please try later. OFR_999 [999]"],
  "speeding", "providers.md 6 (421 OFR_999, 3)")
R("laposte-510", 550, "5.5.0", [
    "Service refuse. Veuillez essayer plus tard. service refused, please "
    "try later. LPN007_510"],
  "spamdetected", "providers.md 6 (550 5.5.0 LPN007_510, B)")
R("free-spam", 550, None, ["spam detected"],
  "spamdetected", "providers.md 7 (550 spam detected, P,B)")
R("sfr-content", 550, "5.7.1", ["Message content rejected"],
  "spamdetected", "providers.md 8 (550 5.7.1, B)")

# Mail.ru and Yandex (sections 11-12)
R("mailru-nouser", 550, None, [
    "Message was not accepted -- invalid mailbox.  Local mailbox {rcpt} is "
    "unavailable: user not found"],
  "userunknown", "providers.md 11 (550 invalid mailbox / user not found)")
R("mailru-dmarc", 550, "5.7.1", [
    "This message was not accepted due to domain owner DMARC policy "
    "(RFC 7489) https://help.mail.ru/mail-help/postmaster/dmarc"],
  "authfailure", "providers.md 11 (550 5.7.1 DMARC, B)")
R("mailru-spam", 550, None, [
    "spam message rejected. Please visit "
    "https://help.mail.ru/notspam-support/id?c={id} or report details to "
    "abuse@corp.mail.ru. Error code: {id}. ID: {id}."],
  "spamdetected", "providers.md 11 (550 spam message rejected, B)")
R("yandex-spam", 554, "5.7.1", [
    "[2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc {id}"],
  "spamdetected", "providers.md 12 (554 5.7.1, P)")
R("yandex-nouser", 550, "5.7.1", ["No such user!"],
  "userunknown", "providers.md 12 (550 No such user!, P)")

# Tencent QQ and NetEase (sections 13-14): no enhanced codes.
QQ_HELP = "http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no="
R("qq-notfound", 550, None, ["Mailbox not found. " + QQ_HELP + "1000728"],
  "userunknown", "providers.md 13 (550 Mailbox not found, P)")
R("qq-unavailable", 550, None, ["Mailbox unavailable or access denied"],
  "speeding", "providers.md 13 (550 Mailbox unavailable or access denied, P)")
R("qq-content", 550, None, ["Mail content denied. " + QQ_HELP + "1000726"],
  "spamdetected", "providers.md 13 (550 Mail content denied, P)")
R("qq-ipfreq", 550, None, ["Ip frequency limited. " + QQ_HELP + "1000725"],
  "speeding", "providers.md 13 (550 Ip frequency limited, P,B)")
R("netease-spm-temp", 451, None, [
    "DT:SPM 163 gzga-smtp-mta-g1-2,_____{id}, please try again "
    "http://mail.163.com/help/help_spam_16.htm?ip={client}"],
  "spamdetected", "providers.md 14 (451 DT:SPM, P)")
R("netease-nouser", 550, None, ["User not found: {rcpt}"],
  "userunknown", "providers.md 14 (550 User not found, 3)")

# Apple iCloud (section 5)
R("icloud-nouser", 550, "5.1.1", ["<{rcpt}>: user does not exist"],
  "userunknown", "providers.md 5 (550 5.1.1 user does not exist, 3)")
R("icloud-inactive", 550, "5.1.1", ["<{rcpt}>: inactive email address"],
  "suspend", "providers.md 5 (550 5.1.1 inactive email address, 3)")
R("icloud-cs01", 554, "5.7.1", [
    "[CS01] Message rejected due to local policy. Please visit "
    "https://support.apple.com/en-us/HT204137"],
  "blocked", "providers.md 5 (554 5.7.1 CS01, 3)")
R("icloud-busy-temp", 451, "4.7.1", ["Service unavailable - try again later"],
  "systemerror", "providers.md 5 (451 4.7.1, 3)")

# Comcast, Cox, AT&T (sections 16-18)
R("comcast-bl", 554, None, [
    "resimta-po-25v.sys.comcast.example.org resimta-po-25v.sys.comcast.example.org "
    "{client} found on one or more DNSBLs, see "
    "http://postmaster.comcast.net/smtp-error-codes.php#BL000001"],
  "blocked", "providers.md 16 (BL000001, P)")
R("cox-cxbl", 554, None, [
    "cmsmtp blocked. Refer to Error Codes section at "
    "https://www.cox.com/residential/support/email-error-codes.html for more "
    "information. AUP#CXBL"],
  "blocked", "providers.md 18 (AUP#CXBL, B)")
R("att-rbl", 553, "5.3.0", [
    "alph135 DNSBL:ATTRBL 521< {client} >_is_blocked.For assistance forward "
    "this email to abuse_rbl@abuse-att.net"],
  "blocked", "providers.md 17 (553 5.3.0 DNSBL:ATTRBL, B)")
R("att-suspend", 550, None, [
    "[suspend] Mailbox currently suspended--Please contact correspondent directly."],
  "suspend", "providers.md 17 (550 [suspend], P)")

# Filtering gateways and other receivers (sections 20, 23, 25, 30)
R("zoho-nouser", 550, "5.1.1", ["<{rcpt}> User unknown"],
  "userunknown", "providers.md 20 (550 5.1.1, 3)")
R("zoho-dmarc", 550, "5.7.1", ["Email rejected per DMARC policy for {sdomain}"],
  "authfailure", "providers.md 20 (550 5.7.1 DMARC, 3)")
R("zoho-virus", 552, "5.7.1", ["virus Eicar-Test-Signature detected by Zoho Mail"],
  "virusdetected", "providers.md 20 (552 5.7.1 virus, 3)")
R("proofpoint-blocked", 554, "5.7.0", [
    "Blocked - see https://ipcheck.proofpoint.com/?ip={client}"],
  "blocked", "providers.md 23 (554 5.7.0, 3)")
R("cuda-nsu", 550, None, [
    "cuda_nsu 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"],
  "userunknown", "providers.md 25 (550 cuda_nsu 5.1.1, 3)")
R("cuda-brbl", 554, None, [
    "Service unavailable; Client host [{client}] blocked using Barracuda "
    "Reputation; http://www.barracudanetworks.com/reputation/?pr=1&ip={client}"],
  "blocked", "providers.md 25 (554 Barracuda Reputation, B)")
R("godaddy-spf", 550, "5.1.0", [
    "{client} is not allowed to send from <{sdomain}> per it's SPF Record. "
    "Please inspect your SPF settings, and try again. IB508 <http://x.co/rlbounce>"],
  "authfailure", "providers.md 30 (550 5.1.0 IB508, B)")
R("godaddy-spam", 552, "5.2.0", [
    "{id} This message has been rejected due to content judged to be spam "
    "by the internet community IB212"],
  "spamdetected", "providers.md 30 (552 5.2.0 IB212, B)")
R("gandi-policy", 550, "5.7.1", [
    "Reject for policy reason RULE3_2. See http://postmaster.gandi.net"],
  "policyviolation", "providers.md 30 (550 5.7.1 RULE3_2, B)")
R("rackspace-conns-temp", 421, None, [
    "Too many concurrent connections from this client (G2)"],
  "toomanyconn", "providers.md 30 (Rackspace 421 G2, 3)")
R("rackspace-noptr-temp", 450, "4.7.1", [
    "Client host {client} has no PTR record (G1F)"],
  "requireptr", "providers.md 30 (Rackspace 450 4.7.1 G1F, 3)")

# A Postfix receiver and RFC 5321 wording (sections 1.2, 29, 30)
R("pf-virtual", 550, "5.1.1", [
    "<{rcpt}>: Recipient address rejected: User unknown in virtual alias table"],
  "userunknown", "providers.md 30 (Postfix 550 5.1.1, B)")
R("pf-local", 550, "5.1.1", [
    "<{rcpt}>: Recipient address rejected: User unknown in local recipient table"],
  "userunknown", "providers.md 30 (Postfix 550 5.1.1, B)")
R("pf-relay", 554, "5.7.1", ["<{rcpt}>: Relay access denied"],
  "norelaying", "providers.md 30 (Postfix 554 5.7.1 Relay access denied, B)")
R("pf-access", 554, "5.7.1", [
    "<{rcpt}>: Recipient address rejected: Access denied"],
  "rejected", "providers.md 30 (Postfix 554 5.7.1 Access denied, B)")
R("pf-spamhaus", 554, "5.7.1", [
    "Service unavailable; Client host [{client}] blocked using "
    "zen.spamhaus.org; https://www.spamhaus.org/query/ip/{client}"],
  "blocked", "providers.md 29 (554 5.7.1 blocked using zen.spamhaus.org, B)")
R("pf-greylist-temp", 450, "4.2.0", [
    "<{rcpt}>: Recipient address rejected: Greylisted, see "
    "http://postgrey.schweikert.ch/help/generic.example.org.html"],
  "onhold", "providers.md 30 (450 4.2.0 Greylisted, B)")
R("pf-noptr-temp", 450, "4.7.1", [
    "Client host rejected: cannot find your hostname, [{client}]"],
  "requireptr", "providers.md 30 (Postfix 450 4.7.1 cannot find your hostname, B)")
R("pf-nullmx-sender", 550, "5.7.27", [
    "<{sender}>: Sender address rejected: Domain {sdomain} does not accept "
    "mail (nullMX)"],
  "rejected", "providers.md 1.3 and enhanced-status.tsv X.7.27")
R("rfc-moved", 551, "5.1.6", [
    "User not local; please try <moved.{rcpt}>"],
  "hasmoved", "providers.md 1.2 (551) and enhanced-status.tsv X.1.6")
R("rfc-storage", 552, "5.2.2", [
    "Requested mail action aborted: exceeded storage allocation"],
  "mailboxfull", "providers.md 1.2 (552)")
R("rfc-multiline-last", 550, "5.1.1", [
    "Requested action not taken:",
    "mailbox unavailable",
    "<{rcpt}>: no such user here"],
  "userunknown", "providers.md 1.2 (550) and enhanced-status.tsv X.1.1",
  repeat=False)
R("rfc-421-temp", 421, "4.3.2", [
    "Service not available, closing transmission channel"],
  "systemerror", "providers.md 1.2 (421) and 4 (421 Service not available)")
R("rfc-451-temp", 451, "4.3.0", [
    "Requested action aborted: local error in processing"],
  "systemerror", "providers.md 1.2 (451) and 9 (451 local error, B)")

# --- what the MTA itself finds (no reply from a server) ---------------------

class Local:
    """An outcome the sending MTA finds on its own: DNS or connection.
    words: how MTAs state it (any one of them, in lower case), to tell a
    report that says what happened from one that does not."""

    def __init__(self, lid, temporary, reason, src, words):
        self.id = lid
        self.temporary = temporary
        self.reason = reason
        self.src = src
        self.words = words
        self.code = None
        self.enh = None


NOT_FOUND = ("not found", "unrouteable", "unroutable", "host unknown", "unknown host",
             "no such domain", "lookup fail", "no mx", "name service error", "does not exist",
             "no data", "no valid")


LOCAL = {
    "nxdomain": Local("nxdomain", False, "hostunknown",
                      "the recipient domain does not exist (NXDOMAIN): X.4.4 / X.1.2", NOT_FOUND),
    "nodata": Local("nodata", False, "hostunknown",
                    "the domain exists but has neither MX nor A: X.4.4", NOT_FOUND),
    "nullmx": Local("nullmx", False, "notaccept",
                    "the domain publishes a null MX (RFC 7505): it accepts no mail, X.1.10 "
                    "(Sisimai's name for it is notaccept; a hard bounce either way)",
                    NOT_FOUND + ("null mx", "nullmx", "does not accept mail", "no smtp service")),
    "badmx": Local("badmx", False, "hostunknown",
                   "the only MX host name does not resolve: X.4.4", NOT_FOUND),
    "refused": Local("refused", True, "networkerror",
                     "connection refused (providers.md 3, 4.4.316): X.4.1",
                     ("refused", "network error")),
    "unreachable": Local("unreachable", True, "networkerror",
                         "no route to the MX host: X.4.1",
                         ("unreachable", "no route", "timed out", "network error")),
}

# --- remote domains ----------------------------------------------------------

class Domain:
    """A recipient domain: how it resolves and how its server behaves.

    dns: "mx" (an MX to a scripted server), or one of LOCAL's DNS ids;
    ip: the MX host's address; mx: its name; banner: the greeting lines
    (a list, a 220 reply, several lines for a 220- continuation); greet:
    a Reply id refusing at the greeting; mail: a Reply id refusing at MAIL
    FROM; ok_rcpt / ok_data: the 250 texts; clears: temporary refusals of
    this server stop at the clear time (delay-warning runs).
    """

    def __init__(self, name, dns="mx", ip=None, mx=None, banner=None, greet=None,
                 mail=None, ok_rcpt="2.1.5 OK", ok_data="2.0.0 OK", clears=False):
        self.name = name
        self.dns = dns
        self.ip = ip
        self.mx = mx or ("mx." + name)
        self.banner = banner or ["%s ESMTP ready" % self.mx]
        self.greet = greet
        self.mail = mail
        self.ok_rcpt = ok_rcpt
        self.ok_data = ok_data
        self.clears = clears


# The documentation networks stand for the Internet here: the MTAs send from
# 192.0.2.0/24, the remote servers listen on 198.51.100.0/24, the catcher of
# the bounces on 203.0.113.25. All of them are addresses of the loopback
# interface of a private network namespace.
CATCHER_IP = "203.0.113.25"
SENDER_DOMAIN = "example.com"

DOMAINS = {}


def D(name, **kw):
    DOMAINS[name] = Domain(name, **kw)


D("google.example.org", ip="198.51.100.10", mx="aspmx.l.google.example.org",
  banner=["mx.google.example.org ESMTP {id} - gsmtp"],
  ok_rcpt="2.1.5 OK {id} - gsmtp", ok_data="2.0.0 OK  {id} - gsmtp")
D("outlook.example.org", ip="198.51.100.11",
  mx="outlook-example-org.mail.protection.outlook.example.org",
  banner=["AM7EUR03FT021.mail.protection.outlook.example.org Microsoft ESMTP "
          "MAIL Service ready"],
  ok_rcpt="2.1.5 Recipient OK", ok_data="2.6.0 <{id}@example.com> [InternalId=1] Queued mail for delivery")
D("yahoo.example.org", ip="198.51.100.12", mx="mta5.am0.yahoodns.example.org",
  banner=["mta1014.mail.ne1.yahoo.example.org ESMTP ready"],
  ok_rcpt="recipient <{rcpt}> ok", ok_data="ok dirdel")
D("gmx.example.org", ip="198.51.100.13", mx="mx00.emig.gmx.example.org",
  banner=["gmx.example.org (mxgmx104) Nemesis ESMTP Service ready"],
  ok_rcpt="Requested mail action okay, completed", ok_data="Requested mail action okay, completed: id={id}")
D("web.example.org", ip="198.51.100.14", mx="mx-ha03.web.example.org",
  banner=["web.example.org (mxweb110) Nemesis ESMTP Service ready"])
D("ionos.example.org", ip="198.51.100.15", mx="mx00.ionos.example.org",
  banner=["mrelayeu.kundenserver.example.org (mreue109) Nemesis ESMTP Service ready"])
D("t-online.example.org", ip="198.51.100.16", mx="mx00.t-online.example.org",
  banner=["mailin41.mgt.mul.t-online.example.org T-Online ESMTP receiver fssmtpd ready."])
D("orange.example.org", ip="198.51.100.17", mx="smtp-in.orange.example.org",
  banner=["mwinf5c21 ME ESMTP server ready"])
D("laposte.example.org", ip="198.51.100.18", mx="smtp-in.laposte.example.org",
  banner=["lpn-prd-mx09 ESMTP ready"])
D("free.example.org", ip="198.51.100.19", mx="mx1.free.example.org",
  banner=["mx1-g20.free.example.org ESMTP Postfix"])
D("sfr.example.org", ip="198.51.100.20", mx="smtp-in.sfr.example.org",
  banner=["msfrf2611.sfr.example.org ESMTP ready"])
D("mail.example.net", ip="198.51.100.21", mx="mxs.mail.example.net",
  banner=["mxs.mail.example.net ready to serve",
          "Unsolicited commercial mail is not welcome here.",
          "By talking to this server you agree to its terms of use."])
D("yandex.example.org", ip="198.51.100.22", mx="mx.yandex.example.org",
  banner=["mx.yandex.example.org (Want to use Yandex.Mail for your domain? Visit "
          "http://pdd.yandex.ru) 1700000000-{id}"])
D("qq.example.org", ip="198.51.100.23", mx="mx3.qq.example.org",
  banner=["newxmesmtplogicsvrsza9.qq.example.org XMail Esmtp QQ Mail Server."])
D("163.example.org", ip="198.51.100.24", mx="163mx01.mxmail.netease.example.org",
  banner=["163.com Anti-spam GT for Coremail System (163com[20141201])"])
D("icloud.example.org", ip="198.51.100.25", mx="mx01.mail.icloud.example.org",
  banner=["st43p00im-zteg10063401.me.example.org -- Server ESMTP "
          "(Oracle Communications Messaging Server 8.1.0.7)"])
D("zoho.example.org", ip="198.51.100.26", mx="mx.zoho.example.org",
  banner=["mx.zohomail.example.org SMTP Server ready"])
D("gateway.example.org", ip="198.51.100.27", mx="d207.gateway.example.org",
  banner=["barracuda.gateway.example.org ESMTP (zoo{id})"])
D("att.example.org", ip="198.51.100.28", mx="al-ip4-mx-vip1.prodigy.example.org",
  banner=["alph135.prodigy.example.org ESMTP Sendmail Inbound 8.15.2/8.15.2; ready"])
D("generic.example.org", ip="198.51.100.29", mx="mail.generic.example.org",
  banner=["mail.generic.example.org ESMTP Postfix (Debian/GNU)"])
D("gandi.example.org", ip="198.51.100.30", mx="spool.mail.gandi.example.org",
  banner=["spool.mail.gandi.example.org ESMTP Postfix"])
D("secureserver.example.org", ip="198.51.100.31", mx="mx1.secureserver.example.org",
  banner=["p3plibsmtp01-03.prod.phx3.secureserver.example.org bizsmtp ESMTP server ready"])
D("rackspace.example.org", ip="198.51.100.32", mx="mx1.emailsrvr.example.org",
  banner=["smtp21.gate.iad3a.rsapps.example.org ESMTP - VA Code Section 18.2-152.3:1 "
          "forbids sending unsolicited bulk mail"])
# Refusals at the greeting (the whole connection) and at MAIL FROM.
D("gmx.example.net", ip="198.51.100.40", mx="mx01.emig.gmx.example.net", greet="gmx-blocklisted")
D("t-online.example.net", ip="198.51.100.41", mx="mx02.t-online.example.net", greet="tonline-bl")
D("yahoo.example.net", ip="198.51.100.42", mx="mta6.am0.yahoodns.example.net", greet="y-bl21")
D("comcast.example.org", ip="198.51.100.43", mx="mx1.comcast.example.org", greet="comcast-bl")
D("cox.example.org", ip="198.51.100.44", mx="mx.east.cox.example.org", greet="cox-cxbl")
D("gateway.example.net", ip="198.51.100.45", mx="mx.gateway.example.net",
  banner=["mx.gateway.example.net ESMTP (Barracuda)"], mail="cuda-brbl")
D("hotmail.example.org", ip="198.51.100.46", mx="hotmail-example-org.olc.protection.outlook.example.org",
  banner=["DB5EUR03FT010.mail.protection.outlook.example.org Microsoft ESMTP MAIL Service ready"],
  mail="ms-s3150")
D("outlook.example.net", ip="198.51.100.47", mx="outlook-example-net.mail.protection.outlook.example.org",
  banner=["AM7EUR03FT044.mail.protection.outlook.example.org Microsoft ESMTP MAIL Service ready"],
  mail="ms-banned")
D("att.example.net", ip="198.51.100.48", mx="ff-ip4-mx-vip2.prodigy.example.net",
  banner=["flpd567.prodigy.example.net ESMTP Sendmail Inbound 8.15.2/8.15.2; ready"],
  mail="att-rbl")
D("pphosted.example.org", ip="198.51.100.49", mx="mx0a-001.pphosted.example.org",
  banner=["mx0a-001.pphosted.example.org ESMTP mfa-m0001"], mail="proofpoint-blocked")
D("secureserver.example.net", ip="198.51.100.50", mx="mx1.secureserver.example.net",
  banner=["p3plibsmtp02-05.prod.phx3.secureserver.example.net bizsmtp ESMTP server ready"],
  mail="godaddy-spf")
# Temporary refusals of the whole connection or of MAIL FROM. The .org ones
# last (queue expiry runs), the .net ones clear (delay-warning runs).
for _suffix, _clears, _base in (("org", False, 60), ("net", True, 70)):
    D("yahoo-ts.example.%s" % _suffix, ip="198.51.100.%d" % _base,
      mx="mta7.am0.yahoodns.example.%s" % _suffix, greet="y-ts01", clears=_clears)
    D("orange-busy.example.%s" % _suffix, ip="198.51.100.%d" % (_base + 1),
      mx="smtp-in2.orange.example.%s" % _suffix, greet="orange-999-temp", clears=_clears)
    D("rackspace-busy.example.%s" % _suffix, ip="198.51.100.%d" % (_base + 2),
      mx="mx2.emailsrvr.example.%s" % _suffix, greet="rackspace-conns-temp", clears=_clears)
    D("outlook-slow.example.%s" % _suffix, ip="198.51.100.%d" % (_base + 3),
      mx="outlook-slow.mail.protection.outlook.example.%s" % _suffix,
      banner=["AM7EUR03FT050.mail.protection.outlook.example.org Microsoft ESMTP MAIL Service ready"],
      mail="ms-reputation-temp", clears=_clears)
    D("busy.example.%s" % _suffix, ip="198.51.100.%d" % (_base + 4),
      mx="mx.busy.example.%s" % _suffix, greet="rfc-421-temp", clears=_clears)
    # nothing listens here (connection refused); for the .net one the
    # server starts listening at the clear time
    D("down.example.%s" % _suffix, dns="refused", ip="198.51.100.%d" % (_base + 5),
      mx="mx.down.example.%s" % _suffix, clears=_clears)
# DNS outcomes
D("nxdomain.example.org", dns="nxdomain")
D("nomx.example.org", dns="nodata")
D("nullmx.example.org", dns="nullmx")
D("badmx.example.org", dns="badmx", mx="mx.gone.example.org")
D("unreachable.example.org", dns="unreachable", ip="198.51.100.99", mx="mx.unreachable.example.org")

# --- recipients --------------------------------------------------------------

class Rcpt:
    """A scripted recipient: the reply at RCPT TO (rcpt) and/or at the end of
    DATA (data), by Reply id; None means the server's 250."""

    def __init__(self, address, rcpt=None, data=None):
        self.address = address
        self.rcpt = rcpt
        self.data = data


RCPTS = {}


def A(address, rcpt=None, data=None):
    RCPTS[address.lower()] = Rcpt(address, rcpt, data)
    return address


# --- the messages --------------------------------------------------------------

class Case:
    """One message every MTA is given: its recipients (one transaction per
    domain), whether it runs in the expiry instance ("main") or the
    delay-warning instance ("warn"), and what it exercises."""

    def __init__(self, cid, rcpts, run="main", note="", smarthost=True):
        self.id = cid
        self.rcpts = rcpts
        self.run = run
        self.note = note
        # a case a smarthost-only MTA (nullmailer) can run: no DNS outcome,
        # no per-domain greeting or MAIL FROM refusal
        self.smarthost = smarthost


CASES = []


def C(cid, rcpts, run="main", note=""):
    rcpts = rcpts if isinstance(rcpts, list) else [rcpts]
    smart = True
    for a in rcpts:
        d = DOMAINS[a.split("@", 1)[1].lower()]
        if d.dns != "mx" or d.greet or d.mail:
            smart = False
    CASES.append(Case(cid, rcpts, run, note, smart))


def single(rid, domain, local, stage="rcpt", run="main", note=""):
    """A one-recipient message whose recipient gets reply rid at stage."""
    addr = "%s@%s" % (local, domain)
    if stage == "rcpt":
        A(addr, rcpt=rid)
    else:
        A(addr, data=rid)
    C(rid + ("" if run == "main" else "-w"), addr, run, note or ("%s at %s" % (rid, stage.upper())))


# permanent refusals at RCPT TO
single("g-nouser", "google.example.org", "ann.nobody")
single("g-disabled", "google.example.org", "old.account")
single("g-overquota", "google.example.org", "full.box")
single("ms-notfound", "outlook.example.org", "no.such.person")
single("ms-exrecip", "outlook.example.org", "gone.employee")
single("ms-dbeb", "outlook.example.org", "not.in.tenant")
single("ms-tenantrelay", "outlook.example.org", "relay.check")
single("gmx-unavailable", "gmx.example.org", "verschwunden")
single("webde-quota", "web.example.org", "voll")
single("webde-unknown", "web.example.org", "niemand")
single("tonline-unknown", "t-online.example.org", "unbekannt")
single("tonline-quota", "t-online.example.org", "ueberfuellt")
single("mailru-nouser", "mail.example.net", "ivan.nobody")
single("yandex-nouser", "yandex.example.org", "pyotr.nobody")
single("qq-notfound", "qq.example.org", "10000001")
single("qq-unavailable", "qq.example.org", "10000002")
single("qq-ipfreq", "qq.example.org", "10000003")
single("netease-nouser", "163.example.org", "wang.nobody")
single("icloud-nouser", "icloud.example.org", "no.such.user")
single("icloud-inactive", "icloud.example.org", "inactive.alias")
single("zoho-nouser", "zoho.example.org", "nobody")
single("cuda-nsu", "gateway.example.org", "left.company")
single("att-suspend", "att.example.org", "suspended.box")
single("pf-virtual", "generic.example.org", "unknown.virtual")
single("pf-local", "generic.example.org", "unknown.local")
single("pf-relay", "generic.example.org", "relay.denied")
single("pf-access", "generic.example.org", "access.denied")
single("pf-spamhaus", "generic.example.org", "rbl.check")
single("pf-nullmx-sender", "generic.example.org", "sender.check")
single("rfc-moved", "generic.example.org", "moved.away")
single("rfc-storage", "generic.example.org", "storage.full")
single("rfc-multiline-last", "generic.example.org", "multi.line")
# permanent refusals at the end of DATA (the recipient had been accepted)
single("g-spam", "google.example.org", "spam.check", "data")
single("g-ipspam", "google.example.org", "ip.reputation", "data")
single("g-unauth", "google.example.org", "auth.check", "data")
single("g-dmarc", "google.example.org", "dmarc.check", "data")
single("g-rfc5322", "google.example.org", "rfc.check", "data")
single("g-size", "google.example.org", "size.check", "data")
single("g-virus", "google.example.org", "virus.check", "data")
single("g-gcdp", "google.example.org", "policy.check", "data")
single("ms-dmarc", "outlook.example.org", "dmarc.check", "data")
single("ms-authlevel", "outlook.example.org", "auth.check", "data")
single("y-dd-nouser", "yahoo.example.org", "no.account", "data")
single("y-dd-disabled", "yahoo.example.org", "closed.account", "data")
single("y-dd-quota", "yahoo.example.org", "full.account", "data")
single("y-ph01", "yahoo.example.org", "policy.ph01", "data")
single("y-579", "yahoo.example.org", "policy.579", "data")
single("ionos-policy", "ionos.example.org", "policy", "data")
single("orange-506", "orange.example.org", "filtre", "data")
single("laposte-510", "laposte.example.org", "filtre", "data")
single("free-spam", "free.example.org", "filtre", "data")
single("sfr-content", "sfr.example.org", "filtre", "data")
single("mailru-dmarc", "mail.example.net", "dmarc.check", "data")
single("mailru-spam", "mail.example.net", "spam.check", "data")
single("yandex-spam", "yandex.example.org", "spam.check", "data")
single("qq-content", "qq.example.org", "10000004", "data")
single("icloud-cs01", "icloud.example.org", "policy.check", "data")
single("zoho-dmarc", "zoho.example.org", "dmarc.check", "data")
single("zoho-virus", "zoho.example.org", "virus.check", "data")
single("godaddy-spam", "secureserver.example.org", "spam.check", "data")
single("gandi-policy", "gandi.example.org", "policy.check", "data")

# refusals of the whole connection (greeting) and of MAIL FROM
for _dom, _local in (("gmx.example.net", "blocked"), ("t-online.example.net", "blocked"),
                     ("yahoo.example.net", "blocked"), ("comcast.example.org", "blocked"),
                     ("cox.example.org", "blocked"), ("gateway.example.net", "blocked"),
                     ("hotmail.example.org", "blocked"), ("outlook.example.net", "blocked"),
                     ("att.example.net", "blocked"), ("pphosted.example.org", "blocked"),
                     ("secureserver.example.net", "spf.check")):
    _d = DOMAINS[_dom]
    A("%s@%s" % (_local, _dom))
    C((_d.greet or _d.mail) + "-at-" + ("greeting" if _d.greet else "mail"),
      "%s@%s" % (_local, _dom),
      note="%s at the %s" % (_d.greet or _d.mail, "greeting" if _d.greet else "MAIL FROM"))

# what the sending MTA finds in DNS
for _dom in ("nxdomain.example.org", "nomx.example.org", "nullmx.example.org", "badmx.example.org"):
    A("someone@" + _dom)
    C("dns-" + DOMAINS[_dom].dns, "someone@" + _dom, note="DNS: " + LOCAL[DOMAINS[_dom].dns].src)

# temporary refusals that outlast the queue (main) or clear after a
# delay warning (warn)
for _run, _tld in (("main", "org"), ("warn", "net")):
    _w = "" if _run == "main" else "-w"
    for _rid, _local in (("g-overquota-temp", "full.for.now"), ("g-ratelimit", "too.fast"),
                         ("pf-greylist-temp", "greylisted"), ("rackspace-noptr-temp", "ptr.check"),
                         ("pf-noptr-temp", "ptr.check"), ("gmx-policy-temp", "policy.temp")):
        _dom = {"g-overquota-temp": "google", "g-ratelimit": "google",
                "pf-greylist-temp": "generic", "rackspace-noptr-temp": "rackspace",
                "pf-noptr-temp": "generic", "gmx-policy-temp": "gmx"}[_rid] + ".example.org"
        A("%s%s@%s" % (_local, _w, _dom), rcpt=_rid)
        C(_rid + _w, "%s%s@%s" % (_local, _w, _dom), _run, "%s at RCPT" % _rid)
    for _rid, _local, _dom in (("g-tempfail", "later", "google.example.org"),
                               ("netease-spm-temp", "later", "163.example.org"),
                               ("icloud-busy-temp", "later", "icloud.example.org"),
                               ("rfc-451-temp", "later", "generic.example.org")):
        A("%s%s@%s" % (_local, _w, _dom), data=_rid)
        C(_rid + _w, "%s%s@%s" % (_local, _w, _dom), _run, "%s at DATA" % _rid)
    for _base in ("yahoo-ts", "orange-busy", "rackspace-busy", "outlook-slow", "busy", "down"):
        _dom = "%s.example.%s" % (_base, _tld)
        _d = DOMAINS[_dom]
        _what = _d.greet or _d.mail or _d.dns
        A("someone@" + _dom)
        C("%s-at-%s%s" % (_what, "greeting" if _d.greet else "mail" if _d.mail else "connect", _w),
          "someone@" + _dom, _run,
          "%s at the %s" % (_what, "greeting" if _d.greet else "MAIL FROM" if _d.mail else "connection"))
A("someone@unreachable.example.org")
C("unreachable-at-connect", "someone@unreachable.example.org", note="no route to the MX host")

# several recipients in one transaction, with mixed outcomes
A("alice@google.example.org")
A("bob@google.example.org")
A("carol@generic.example.org")
A("dave@outlook.example.org")
C("m2-ok-nouser", ["alice@google.example.org", "ann.nobody@google.example.org"],
  note="2 recipients, one transaction: delivered + 550 5.1.1 at RCPT")
A("data.spam2@google.example.org", data="g-spam")
C("m2-rcpt-data", ["ann.nobody@google.example.org", "data.spam2@google.example.org"],
  note="2 recipients, one transaction: 550 at RCPT, then 550 at DATA for the accepted one")
A("first.dmarc@google.example.org", data="g-dmarc")
C("m2-data-both", ["first.dmarc@google.example.org", "alice@google.example.org"],
  note="2 recipients accepted at RCPT, both refused at DATA")
C("m2-two-domains", ["ann.nobody@google.example.org", "no.such.person@outlook.example.org"],
  note="2 recipients in two domains (two transactions), both refused at RCPT")
C("m5-generic", ["carol@generic.example.org", "unknown.virtual@generic.example.org",
                 "unknown.local@generic.example.org", "moved.away@generic.example.org",
                 "storage.full@generic.example.org"],
  note="5 recipients, one transaction: 1 delivered, 4 refused at RCPT with 3 reasons")
A("spam5@yandex.example.org", data="yandex-spam")
A("a5@yandex.example.org")
A("b5@yandex.example.org")
A("c5@yandex.example.org")
A("d5@yandex.example.org")
C("m5-data-all", ["spam5@yandex.example.org", "a5@yandex.example.org", "b5@yandex.example.org",
                  "c5@yandex.example.org", "d5@yandex.example.org"],
  note="5 recipients accepted at RCPT, all refused at DATA")
C("m5-domains", ["no.such.person@outlook.example.org", "someone@nxdomain.example.org",
                 "ann.nobody@google.example.org", "dave@outlook.example.org",
                 "voll@web.example.org"],
  note="5 recipients in 4 domains: 550 RCPT, NXDOMAIN, 550 RCPT, delivered, 550 quota")
A("mixed.later@google.example.org", rcpt="g-overquota-temp")
C("m2-perm-temp", ["ann.nobody@google.example.org", "mixed.later@google.example.org"],
  note="2 recipients: 550 at RCPT (bounced now) and 452 at RCPT until the queue gives up")
A("greylisted.too@generic.example.org", rcpt="pf-greylist-temp")
C("m2-ok-temp", ["carol@generic.example.org", "greylisted.too@generic.example.org"],
  note="2 recipients: delivered, and greylisted until the queue gives up")
A("greylisted.too-w@generic.example.org", rcpt="pf-greylist-temp")
A("full.too-w@google.example.org", rcpt="g-overquota-temp")
C("m2-temp-temp-w", ["greylisted.too-w@generic.example.org", "full.too-w@google.example.org"],
  "warn", "2 recipients in two domains, both deferred (delay warning), then delivered")
C("m2-ok-temp-w", ["bob@google.example.org", "full.too-w@google.example.org"],
  "warn", "2 recipients, one transaction: delivered + deferred (delay warning)")
# address forms
A("Ann.Nobody+news@Google.Example.Org", rcpt="g-nouser")
C("addr-plus-case", "Ann.Nobody+news@Google.Example.Org",
  note="an address with a +tag and capitals, 550 5.1.1 at RCPT")
