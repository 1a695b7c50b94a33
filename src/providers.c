/*
 * providers.c - the provider code tables: the codes a mailbox provider or a
 * filtering service defines for its own replies, each with the reason its
 * documentation gives and the page it comes from (the section heading).
 *
 * Tried after the provider and MTA wordings (src/rules.c bnc_builtin_rules)
 * and before general wording (bnc_generic_rules): a provider's code says
 * more than words any server may use. An entry is keyed on the provider's
 * own code in the text ("[TSS04]", "OFR_506", "AUP#CXBL"), or on a status the
 * provider gives its own meaning, with the mark that makes the status the
 * provider's (Gmail's "gsmtp", Microsoft's wording), or on a status alone
 * when the status is outside the IANA registry and only that provider sends
 * it (Microsoft's 5.7.5xx-7xx). Names are "provider:NAME:CODE": what
 * `rule` reports when an entry decides.
 */
#include <stddef.h>
#include "rules.h"

/* P: an entry of provider prov for its code; pattern "" keys it on the
 * status alone. PF: the provider's own directory says the address does not
 * exist (final: no gateway guesses there). */
#define P(prov, code, pat, reason, status, ex) \
  { "provider:" prov ":" code, pat, reason, NULL, status, NULL, NULL, ex, 0, "provider:" prov, NULL }
#define PF(prov, code, pat, reason, status, ex) \
  { "provider:" prov ":" code, pat, reason, NULL, status, NULL, NULL, ex, 1, "provider:" prov, NULL }

const bnc_rule_def_t bnc_provider_rules[] = {
  /* ---- Microsoft 365 / Exchange Online / Outlook.com (learn.microsoft.com
   * "Email non-delivery reports and SMTP errors in Exchange Online";
   * support.microsoft.com "NDR error codes 550 5.7.700-750") ------------- */
  /* Directory-Based Edge Blocking: the address is not in the tenant's
   * directory. 5.4.1 is the registry's "no answer from host"; Microsoft says
   * it with this wording only. */
  PF("microsoft", "5.4.1", "address*rejected*access denied", "userunknown", "X.4.1",
     "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) "
     "[DB5EUR01FT002.eop-EUR01.prod.protection.outlook.com]"),
  PF("microsoft", "5.1.10", "resolver.adr.", "userunknown", "X.1.10",
     "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found"),
  P("microsoft", "5.7.13", "storedrv", "suspend", "X.7.13",
    "550 5.7.13 STOREDRV.Deliver.Exception:AccountDisabledException; account disabled"),
  P("microsoft", "4.4.316", "", "networkerror", "X.4.316",
    "451 4.4.316 Connection refused [Message=Socket error code 10061]"),
  P("microsoft", "5.1.90", "", "speeding", "X.1.90",
    "550 5.1.90 Your message can't be sent because you've reached your daily limit"),
  P("microsoft", "5.2.121", "", "speeding", "X.2.121-122",
    "550 5.2.121 Recipient's hourly message receive limit exceeded"),
  P("microsoft", "5.3.190", "", "systemerror", "X.3.190",
    "550 5.3.190 Journaling on-premises messages to Microsoft 365 not supported"),
  P("microsoft", "5.4.11", "", "networkerror", "X.4.11",
    "554 5.4.11 Agent generated message depth exceeded"),
  P("microsoft", "5.4.14", "", "networkerror", "X.4.14",
    "554 5.4.14 Hop count exceeded - possible mail loop ATTR34"),
  P("microsoft", "5.4.62", "", "networkerror", "X.4.62",
    "550 5.4.62 Message sent to the wrong region"),
  P("microsoft", "4.4.300", "", "expired", "X.4.300",
    "550 4.4.300 Message expired"),
  P("microsoft", "5.4.310", "", "hostunknown", "5.4.310",
    "550 5.4.310 DNS domain example.invalid does not exist"),
  P("microsoft", "5.4.3xx", "", "networkerror", "X.4.301-399",
    "451 4.4.312 DNS query failed"),
  P("microsoft", "5.6.11", "", "notcompliantrfc", "X.6.11",
    "550 5.6.11 Message contains invalid characters"),
  P("microsoft", "5.7.51", "", "blocked", "X.7.51",
    "550 5.7.51 TenantInboundAttribution; Rejecting, the sending IP is not allowed"),
  P("microsoft", "5.7.57", "", "securityerror", "X.7.57",
    "530 5.7.57 SMTP; Client was not authenticated [AM6PR01CA0001.eurprd01.prod.outlook.com]"),
  P("microsoft", "5.7.64", "", "norelaying", "X.7.64",
    "550 5.7.64 TenantAttribution; Relay Access Denied"),
  P("microsoft", "5.7.124", "", "filtered", "X.7.124",
    "550 5.7.124 Sender not in the group's allowed list"),
  P("microsoft", "5.7.133", "", "securityerror", "X.7.133-136",
    "550 5.7.134 Sender is not authenticated for the mail-enabled public folder"),
  P("microsoft", "5.7.321", "", "failedstarttls", "X.7.321",
    "451 4.7.321 starttls-not-supported: Destination mail server must support TLS"),
  P("microsoft", "5.7.322", "", "securityerror", "X.7.322-325",
    "451 4.7.322 certificate-expired: Destination mail server's certificate is expired"),
  P("microsoft", "5.7.501", "", "blocked", "X.7.501-503",
    "550 5.7.501 Service unavailable. Spam abuse detected from IP range. For more "
    "information please go to http://go.microsoft.com/fwlink/?LinkID=526655"),
  P("microsoft", "5.7.506", "", "blocked", "X.7.506-507",
    "550 5.7.506 Access denied"),
  P("microsoft", "5.7.508", "", "speeding", "X.7.508",
    "451 4.7.508 Access denied [2001:db8::1]"),
  P("microsoft", "5.7.509", "", "authfailure", "X.7.509",
    "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification"),
  P("microsoft", "5.7.510", "", "blocked", "X.7.510-511",
    "550 5.7.511 Access denied [198.51.100.7]"),
  P("microsoft", "5.7.512", "", "notcompliantrfc", "X.7.512",
    "550 5.7.512 Access denied, message must be compliant"),
  P("microsoft", "5.7.513", "", "blocked", "X.7.513",
    "550 5.7.513 Service unavailable, Client host [198.51.100.7] blocked"),
  P("microsoft", "5.7.515", "", "authfailure", "X.7.515",
    "550 5.7.515 Access denied, sending domain example.com does not meet the required "
    "authentication level."),
  P("microsoft", "5.7.520", "", "policyviolation", "X.7.520",
    "550 5.7.520 Access denied, your organization does not allow this."),
  P("microsoft", "5.7.606", "", "blocked", "X.7.606-649",
    "550 5.7.606 Access denied [198.51.100.7]. To request removal from this list please visit "
    "https://sender.office.com/"),
  P("microsoft", "4.7.650", "", "badreputation", "X.7.650-699",
    "451 4.7.650 The mail server [198.51.100.7] has been temporarily rate limited"),
  P("microsoft", "5.7.703", "", "policyviolation", "X.7.703",
    "550 5.7.703 Your message can't be delivered because messages to b@example.net are "
    "blocked by your organization using Tenant Allow Block List."),
  P("microsoft", "5.7.705", "", "blocked", "X.7.705",
    "550 5.7.705 Access denied"),
  P("microsoft", "5.7.708", "", "badreputation", "X.7.708",
    "550 5.7.708 Service unavailable. Access denied. AS(7171)"),
  P("microsoft", "5.7.750", "", "policyviolation", "X.7.750",
    "550 5.7.750 Service unavailable. Client blocked from sending."),
  P("microsoft", "5.7.7xx", "", "blocked", "X.7.700-749",
    "550 5.7.704 Access denied, tenant blocked"),
  /* Outlook.com's consumer block codes (S3150-style, SC-00x) */
  P("microsoft", "S3150", "(s3150)|(s3140)|(as3150)|(s3114)|(s3115)", "blocked", NULL,
    "550 5.7.1 Service unavailable, your network is not allowed to send (S3150)"),
  P("microsoft", "SC-001", "sc-001 (|sc-002 (|sc-003 (|sc-004 (", "blocked", NULL,
    "550 SC-004 (COL0-MC5-F28) Mail rejected"),

  /* ---- Google (support.google.com/a/answer/3726730 "Gmail SMTP errors and
   * codes"): every reply ends with "gsmtp"; Google gives some registry codes
   * meanings of its own ------------------------------------------------- */
  P("google", "X.7.28", "gsmtp", "badreputation", "X.7.28",
    "421 4.7.28 [198.51.100.7] Gmail has temporarily limited mail from your IP. - gsmtp"),
  P("google", "X.7.30", "gsmtp", "authfailure", "X.7.30",
    "550 5.7.30 DKIM check did not pass. - gsmtp"),
  P("google", "X.7.27", "gsmtp", "authfailure", "X.7.27",
    "550 5.7.27 SPF check did not pass. - gsmtp"),
  P("google", "X.7.29", "gsmtp", "failedstarttls", "X.7.29",
    "421 4.7.29 Your email has been rate limited: no TLS. - gsmtp"),
  P("google", "X.7.32", "gsmtp", "authfailure", "X.7.32",
    "550 5.7.32 The From: header is not aligned. - gsmtp"),
  P("google", "4.4.5", "gsmtp", "systemerror", "4.4.5",
    "421 4.4.5 Server busy, try again later. - gsmtp"),
  P("google", "4.2.1", "gsmtp", "speeding", "4.2.1",
    "450 4.2.1 Try again later. - gsmtp"),
  P("google", "5.4.5", "gsmtp", "speeding", "5.4.5",
    "550 5.4.5 Daily user limit reached. - gsmtp"),
  P("google", "gcdp", " gcdp ", "policyviolation", NULL,
    "550 5.7.1 This message violates example.com email policy. - gcdp 1234abcd - gsmtp"),

  /* ---- Yahoo / AOL / Verizon (senders.yahooinc.com/smtp-error-codes) ---- */
  P("yahoo", "TS02", "[ts02]", "badreputation", NULL,
    "421 4.7.0 [TS02] Messages from 198.51.100.7 temporarily deferred"),
  P("yahoo", "TSS05", "[tss05]", "badreputation", NULL,
    "421 4.7.0 [TSS05] Messages from 198.51.100.7 temporarily deferred"),
  P("yahoo", "VS1-IP", "vs1-ip |vs1-mf ", "badreputation", NULL,
    "451 VS1-IP Excessive unknown recipients - possible Open Relay (#4.1.8)"),
  P("yahoo", "VS99-IP1", "vs99-ip", "blocked", NULL,
    "553 VS99-IP1 deferred"),
  /* 5.7.9 is the registry's "mechanism too weak"; Yahoo says policy */
  P("yahoo", "5.7.9", "yahoo", "policyviolation", "X.7.9",
    "554 5.7.9 Message not accepted by Yahoo for policy reasons."),

  /* ---- Apple iCloud (support.apple.com/HT204137): one wording, told apart
   * by the code in brackets --------------------------------------------- */
  P("apple", "CS01", "[cs01]", "blocked", NULL,
    "550 5.7.1 [CS01] Message rejected due to local policy. Please visit "
    "https://support.apple.com/en-us/HT204137"),
  P("apple", "CS02", "[cs02]", "badreputation", NULL,
    "554 5.7.1 [CS02] Message rejected due to local policy. Please visit "
    "https://support.apple.com/en-us/HT204137"),
  P("apple", "HM08", "[hm08]", "rejected", NULL,
    "550 5.7.1 [HM08] Message rejected due to local policy"),

  /* ---- Orange (postmaster.orange.fr) and La Poste: OFRxxx_yyy / LPN codes */
  P("orange", "OFR004_104", "ofr004_104", "toomanyconn", NULL,
    "421 mwinf5c10 ME Trop de connexions, veuillez verifier votre configuration. Too many "
    "connections, slow down. OFR004_104 [104]"),
  P("orange", "OFR004_105", "ofr004_105", "blocked", NULL,
    "421 mwinf5c10 ME Service refuse. Veuillez essayer plus tard. Service refused, please try "
    "later. OFR004_105 [105]"),
  P("orange", "OFR_999", "ofr_999", "speeding", NULL,
    "421 mwinf5c12 ME Service refuse. Veuillez essayer plus tard. OFR_999 [999]"),
  P("orange", "OFR_108", "ofr_108", "blocked", NULL,
    "421 mwinf5c12 service refused. OFR_108 [108]"),
  P("laposte", "LPN007_510", "lpn007_510", "spamdetected", NULL,
    "550 5.5.0 Service refuse. Veuillez essayer plus tard. service refused, please try later. "
    "LPN007_510"),

  /* ---- SFR (SFR_IN_ codes: the last two digits name the cause) --------- */
  P("sfr", "SFR_IN_x01", "sfr_in_101|sfr_in_201|sfr_in_301", "badreputation", NULL,
    "450 4.7.1 SFR_IN_101 Service refused due to bad behavior - too many spam"),
  P("sfr", "SFR_IN_x02", "sfr_in_102|sfr_in_202|sfr_in_302", "virusdetected", NULL,
    "450 4.7.1 SFR_IN_102 Service refused - virus"),
  P("sfr", "SFR_IN_x03", "sfr_in_103|sfr_in_203|sfr_in_303", "syntaxerror", NULL,
    "450 4.7.1 SFR_IN_103 Service refused - too many protocol errors"),
  P("sfr", "SFR_IN_x04", "sfr_in_104|sfr_in_204|sfr_in_304", "badreputation", NULL,
    "450 4.7.1 SFR_IN_104 Service refused - too many unknown users"),
  P("sfr", "SFR_IN_x05", "sfr_in_105|sfr_in_205|sfr_in_305", "speeding", NULL,
    "450 4.7.1 SFR_IN_105 Service refused - volume limit"),

  /* Orange's refusal without its code: "Service refusé" */
  P("orange", "refused", "service refuse", "blocked", NULL,
    "421 mwinf5c12 ME Service refuse. Veuillez essayer plus tard. Service refused, please try "
    "later."),

  /* ---- United Internet: GMX, WEB.DE, 1&1 (postmaster.gmx.net): no enhanced
   * codes; the case is the c= parameter of the postmaster link ----------- */
  P("gmx", "r0201", "c=r0201", "blocked", NULL,
    "554-IP address is block listed.\n554 For explanation visit "
    "https://postmaster.gmx.net/en/case?c=r0201&i=ip&v=198.51.100.7&r=1A2B"),
  P("1and1", "poli", "c=poli", "policyviolation", NULL,
    "550 Requested action not taken: mailbox unavailable. For explanation visit "
    "http://postmaster.1and1.com/en/error-messages?ip=198.51.100.7&c=poli"),

  /* ---- Deutsche Telekom (postmaster.t-online.de): the tag in parentheses */
  P("t-online", "DIAL", "(dial)", "blocked", NULL,
    "554 Dialup/transient IP not allowed. Use a mailgateway or contact "
    "toda@rx.t-online.de if obsolete. (DIAL)"),

  /* ---- Tencent QQ Mail (service.mail.qq.com help numbers) --------------- */
  P("qq", "1000728", "no=1000728", "userunknown", NULL,
    "550 Mailbox not found. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&"
    "no=1000728"),
  P("qq", "1000726", "no=1000726", "spamdetected", NULL,
    "550 Mail content denied. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&"
    "no=1000726"),
  P("qq", "1000730", "no=1000730", "userunknown", NULL,
    "501 Bad address syntax. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&"
    "no=1000730"),
  P("qq", "1001508", "no=1001508", "authfailure", NULL,
    "550 DMARC check failed. http://service.mail.qq.com/detail/0/92?no=1001508"),

  /* ---- NetEase 163/126/yeah.net (its "enterprise bounce code" table):
   * XX:YYY after the basic code ------------------------------------------ */
  P("netease", "HL:REP", "hl:rep", "badreputation", NULL,
    "421 HL:REP Unable to deliver: IP blocked for too many unknown recipients"),
  P("netease", "HL:ICC", "hl:icc", "toomanyconn", NULL,
    "421 HL:ICC too many concurrent connections from this IP"),
  P("netease", "HL:IFC", "hl:ifc", "speeding", NULL,
    "421 HL:IFC too many messages from this IP in a short time"),
  P("netease", "HL:MEP", "hl:mep", "blocked", NULL,
    "421 HL:MEP the IP forges many sender domains"),
  P("netease", "HL:IHU", "hl:ihu|hl:ipb", "blocked", NULL,
    "554 HL:IHU the IP is suspended for violating the terms"),
  P("netease", "MI:CEL", "mi:cel|rp:cel|mi:ccl|rp:ccl", "syntaxerror", NULL,
    "450 MI:CEL too many erroneous commands"),
  P("netease", "MI:DMC", "mi:dmc", "toomanyconn", NULL,
    "451 MI:DMC too many messages in one connection"),
  P("netease", "RP:DRC", "rp:drc", "speeding", NULL,
    "450 RP:DRC too many recipients in one connection"),
  P("netease", "DT:RBL", "dt:rbl", "blocked", NULL,
    "450 DT:RBL the sending IP is on one or more block lists"),
  P("netease", "WM:BLI", "wm:bli|wm:blu", "blocked", NULL,
    "450 WM:BLI the IP is not on the allowed list"),
  P("netease", "DT:SPM", "dt:spm", "spamdetected", NULL,
    "451 DT:SPM 163 mx21, content has spam features, please try again"),
  P("netease", "MI:SFQ", "mi:sfq", "speeding", NULL,
    "451 MI:SFQ the sender's 15-minute sending quota was exceeded"),
  P("netease", "RP:RDN", "rp:rdn", "rejected", NULL,
    "553 RP:RDN the sender's domain has no valid DNS record"),

  /* ---- Comcast (postmaster.comcast.net/mail-error-codes.html): BL codes
   * are bit sets of the lists that hold the IP; ES codes dynamic space --- */
  P("comcast", "BL000000", "bl000000", "badreputation", NULL,
    "554 resimta-po-19v.sys.comcast.net comcast 198.51.100.7 Comcast block list BL000000"),
  P("comcast", "BL0000xx", "bl000001|bl000010|bl000011|bl000100|bl000101|bl000110|bl000111",
    "blocked", NULL,
    "554 resimta-ch2-12v.sys.comcast.net comcast 198.51.100.7 found on one or more RBLs "
    "(BL000001)"),
  P("comcast", "BL", "comcast.net/smtp-error-codes.php#bl", "blocked", NULL,
    "554 resimta-po-19v.sys.comcast.net comcast 198.51.100.7 See "
    "http://postmaster.comcast.net/smtp-error-codes.php#BL006"),
  P("comcast", "ES000001", "es000001", "blocked", NULL,
    "554 comcast 198.51.100.7 Comcast dynamic IP space ES000001"),
  P("comcast", "ES000010", "es000010", "requireptr", NULL,
    "554 comcast 198.51.100.7 dynamic or residential rDNS ES000010"),

  /* ---- Cox (postmaster.cox.net Error Codes): AUP# and IPBL codes -------- */
  P("cox", "IPBL", "ipbl0001|ipbl0010|ipbl0011|ipbl0100|ipbl0101|ipbl0110|ipbl0111|ipbl1000",
    "blocked", NULL,
    "554 cox.net 198.51.100.7 rejected. IPBL0001 Refer to Error Codes section"),
  P("cox", "CXCNCT", "aup#cxcnct", "toomanyconn", NULL,
    "421 cox.net ... too many connections AUP#CXCNCT"),
  P("cox", "CXMXRT", "aup#cxmxrt", "speeding", NULL,
    "452 cox.net ... exceeded maximum messages allowed AUP#CXMXRT"),

  /* ---- AT&T / BellSouth (rbl.att.net) ----------------------------------- */
  P("att", "ATTRBL", "dnsbl:attrbl", "blocked", NULL,
    "553 5.3.0 alph135 DNSBL:ATTRBL 521< 198.51.100.7 >_is_blocked"),
  P("att", "suspend", "[suspend]", "suspend", NULL,
    "550 [suspend] Mailbox currently suspended--Please contact correspondent directly."),
  P("att", "permfail", "[permfail]", "rejected", NULL,
    "550 [permfail] bellsouth.net requires valid sender domain"),

  /* ---- Proofpoint (proofpoint.com/us/postmaster) ------------------------ */
  P("proofpoint", "OXSUS001_514", "oxsus001_514", "authfailure", NULL,
    "550 5.7.1 Message rejected per sender's SPF policy - OXSUS001_514"),

  /* ---- Trend Micro (docs.trendmicro.com DDEI "SMTP error codes") --------- */
  P("trendmicro", "ERS", "matches (ers)", "blocked", NULL,
    "550 Permanent denial of connection (550) for RBL+ matches (ERS)"),

  /* ---- GoDaddy: IB codes ------------------------------------------------ */
  P("godaddy", "IB508", "ib508", "authfailure", NULL,
    "550 5.1.0 IB508 198.51.100.7 is not allowed to send from <example.com> per its SPF record"),
  P("godaddy", "IB212", "ib212", "spamdetected", NULL,
    "552 5.2.0 IB212 This message has been rejected due to content judged to be spam"),

  /* ---- Rackspace: G codes ---------------------------------------------- */
  P("rackspace", "G1F", "(g1f)", "requireptr", NULL,
    "450 4.7.1 Client host 198.51.100.7 has no PTR record (G1F)"),
  P("rackspace", "G1E", "(g1e)", "networkerror", NULL,
    "450 4.4.0 Temporary DMARC DNS lookup failure (G1E)"),
  P("rackspace", "G30", "(g30)", "speeding", NULL,
    "450 4.2.1 Mailbox received too much email in a short period of time (G30)"),
  P("rackspace", "G28", "(g28)", "speeding", NULL,
    "451 4.7.1 Received too many messages from a new or untrusted IP (G28)"),
};

const size_t bnc_provider_rules_count = sizeof bnc_provider_rules / sizeof bnc_provider_rules[0];
