// Interop verifier: .NET SignedXml (System.Security.Cryptography.Xml) on mono.
//
// Usage: mono VerifyXml.exe FILE...
// Prints one line per file, "VALID <file>" or "INVALID <file> <reason>"; exits 0 when every
// file is valid, 1 otherwise. CheckSignature(cert, verifySignatureOnly: true) with the
// certificate embedded in KeyInfo: signature validity only, no trust decision (Kyso's job).

using System;
using System.Security.Cryptography.X509Certificates;
using System.Security.Cryptography.Xml;
using System.Xml;

public static class VerifyXml
{
    static string Verify(string path)
    {
        try
        {
            var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null };
            var doc = new XmlDocument { PreserveWhitespace = true, XmlResolver = null };
            using (var reader = XmlReader.Create(path, settings))
            {
                doc.Load(reader);
            }
            var found = doc.GetElementsByTagName("Signature", SignedXml.XmlDsigNamespaceUrl);
            if (found.Count == 0)
            {
                return "INVALID no ds:Signature";
            }
            var signed = new SignedXml(doc);
            signed.LoadXml((XmlElement)found[0]);
            X509Certificate2 cert = null;
            foreach (KeyInfoClause clause in signed.KeyInfo)
            {
                var data = clause as KeyInfoX509Data;
                if (data != null && data.Certificates != null && data.Certificates.Count > 0)
                {
                    cert = (X509Certificate2)data.Certificates[0];
                    break;
                }
            }
            if (cert == null)
            {
                return "INVALID no X509Certificate in KeyInfo";
            }
            return signed.CheckSignature(cert, true) ? "VALID" : "INVALID CheckSignature returned false";
        }
        catch (Exception e)
        {
            return "INVALID " + e.GetType().Name + ": " + e.Message.Replace("\r", " ").Replace("\n", " ");
        }
    }

    public static int Main(string[] args)
    {
        bool allValid = true;
        foreach (var arg in args)
        {
            var verdict = Verify(arg);
            allValid &= verdict == "VALID";
            var parts = verdict.Split(new[] { ' ' }, 2);
            Console.WriteLine(parts[0] + " " + arg + (parts.Length > 1 ? " " + parts[1] : ""));
        }
        return allValid ? 0 : 1;
    }
}
