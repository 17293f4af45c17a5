/// What a template must be to be saved: the same rules for the API and the CLI.
public enum TemplateRules {
    /// A code no real message can contain by chance, to prove that a template puts `{{code}}` where it is seen.
    static let probe = TemplateValues(code: "90817263", minutes: 10, brand: "Brand", purpose: "login")

    public static let locales = "a language code (en, hi) with an optional region (hi-IN)"

    public static func isValidLocale(_ locale: String) -> Bool {
        let parts = locale.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), (2...3).contains(parts[0].count), parts[0].allSatisfy({ $0.isASCII && $0.isLowercase }) else {
            return false
        }
        return parts.count == 1 || (parts[1].count == 2 && parts[1].allSatisfy { $0.isASCII && $0.isUppercase })
    }

    public static func isValidPurpose(_ purpose: String) -> Bool {
        (1...64).contains(purpose.count) && purpose.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.:-".contains($0)) }
    }

    /// The template as saved, or the first rule it breaks.
    public static func validated(_ template: MessageTemplate) throws(TemplateError) -> MessageTemplate {
        guard isValidPurpose(template.purpose) else { throw TemplateError(field: "purpose", "must be 1 to 64 letters, digits or _ . : -") }
        guard isValidLocale(template.locale) else { throw TemplateError(field: "locale", "must be \(locales)") }
        let limit = template.channel == .sms ? 1000 : 20_000
        guard !template.body.isEmpty, template.body.count <= limit else { throw TemplateError(field: "body", "must be 1 to \(limit) characters") }
        for (field, value) in [("body", template.body), ("subject", template.subject ?? ""), ("html", template.html ?? "")]
        where value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }) {
            throw TemplateError(field: field, "must not contain control characters")
        }
        switch template.channel {
        case .sms:
            for (field, value) in [("subject", template.subject), ("html", template.html)] where value != nil {
                throw TemplateError(field: field, "is for email templates only")
            }
            if let id = template.dltTemplateID, !((1...30).contains(id.count) && id.allSatisfy({ $0.isASCII && $0.isNumber })) {
                throw TemplateError(field: "dlt_template_id", "must be the DLT content template id: 1 to 30 digits")
            }
            if let domain = template.webOTPDomain,
                !((1...253).contains(domain.count) && domain.contains(".")
                    && domain.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }))
            {
                throw TemplateError(field: "webotp_domain", "must be a host name (example.com)")
            }
            if let hash = template.androidAppHash,
                !(hash.count == 11 && hash.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "/") }))
            {
                throw TemplateError(field: "android_app_hash", "must be the app's 11-character SMS Retriever hash")
            }
            if template.webOTPDomain != nil && template.androidAppHash != nil {
                throw TemplateError(field: "webotp_domain", "and android_app_hash cannot both be set: each must end the message")
            }
        case .email:
            for (field, value) in [
                ("dlt_template_id", template.dltTemplateID), ("webotp_domain", template.webOTPDomain), ("android_app_hash", template.androidAppHash),
            ] where value != nil {
                throw TemplateError(field: field, "is for SMS templates only")
            }
            if let subject = template.subject, subject.contains("\n") || subject.count > 200 {
                throw TemplateError(field: "subject", "must be one line of at most 200 characters")
            }
        }
        // The body itself must show the code: the autofill lines alone do not count.
        var bare = template
        bare.webOTPDomain = nil
        bare.androidAppHash = nil
        let rendered = try bare.render(probe)
        guard rendered.text.contains(probe.code) else { throw TemplateError(field: "body", "must contain the code: {{code}}") }
        if let html = rendered.html, !html.contains(probe.code) { throw TemplateError(field: "html", "must contain the code: {{code}}") }
        return template
    }

    /// The message this template makes for a typical code (six digits, ten minutes): what a person would get, with
    /// its SMS encoding and length in segments.
    public static func preview(_ template: MessageTemplate, brand: String) -> (text: String, encoding: SMSEncoding, segments: Int)? {
        guard let rendered = try? template.render(TemplateValues(code: "123456", minutes: 10, brand: brand, purpose: template.purpose)) else {
            return nil
        }
        let encoding = SMSEncoding(rendered.text)
        return (rendered.text, encoding, encoding.segments(rendered.text))
    }
}
