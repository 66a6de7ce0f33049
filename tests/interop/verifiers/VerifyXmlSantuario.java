// Interop verifier: Apache Santuario (org.apache.xml.security, Debian's libxml-security-java).
//
// Usage: java -cp xmlsec.jar:slf4j-api.jar:. VerifyXmlSantuario FILE...
// Prints one line per file, "VALID <file>" or "INVALID <file> <reason>"; exits 0 when every
// file is valid, 1 otherwise. Secure validation is on (Santuario's default for portals).
// Judges signature validity with the certificate embedded in KeyInfo only: no trust decision.

import java.io.File;
import java.security.cert.X509Certificate;
import javax.xml.parsers.DocumentBuilderFactory;
import org.apache.xml.security.Init;
import org.apache.xml.security.signature.SignedInfo;
import org.apache.xml.security.signature.XMLSignature;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

public final class VerifyXmlSantuario {
    static final String DS = "http://www.w3.org/2000/09/xmldsig#";

    /** Santuario resolves "#id" with getElementById: register Id, ID and id (no DTD here). */
    static void registerIds(Element element) {
        for (String name : new String[] {"Id", "ID", "id"}) {
            if (element.hasAttributeNS(null, name)) {
                element.setIdAttributeNS(null, name, true);
            }
        }
        for (Node child = element.getFirstChild(); child != null; child = child.getNextSibling()) {
            if (child instanceof Element) {
                registerIds((Element) child);
            }
        }
    }

    static String oneLine(Throwable e) {
        String text = e.getClass().getSimpleName() + ": " + e.getMessage();
        Throwable cause = e.getCause();
        if (cause != null && cause != e) {
            text += " / " + cause.getClass().getSimpleName() + ": " + cause.getMessage();
        }
        return text.replaceAll("\\s+", " ");
    }

    static String verify(File file) {
        try {
            DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
            dbf.setNamespaceAware(true);
            dbf.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            Document doc = dbf.newDocumentBuilder().parse(file);
            registerIds(doc.getDocumentElement());
            NodeList found = doc.getElementsByTagNameNS(DS, "Signature");
            if (found.getLength() == 0) {
                return "INVALID no ds:Signature";
            }
            XMLSignature signature =
                new XMLSignature((Element) found.item(0), file.toURI().toString(), true);
            if (signature.getKeyInfo() == null) {
                return "INVALID no KeyInfo";
            }
            X509Certificate cert = signature.getKeyInfo().getX509Certificate();
            if (cert == null) {
                return "INVALID no X509Certificate in KeyInfo";
            }
            if (signature.checkSignatureValue(cert)) {
                return "VALID";
            }
            StringBuilder why = new StringBuilder();
            SignedInfo info = signature.getSignedInfo();
            for (int i = 0; i < info.getLength(); i++) {
                try {
                    if (!info.getVerificationResult(i)) {
                        why.append(" digest-mismatch:").append(info.item(i).getURI());
                    }
                } catch (Exception e) {
                    // Results exist only for references checked before a failure.
                }
            }
            return "INVALID" + (why.length() > 0 ? why : " signature-value-mismatch");
        } catch (Exception e) {
            return "INVALID " + oneLine(e);
        }
    }

    public static void main(String[] args) {
        Init.init();
        boolean allValid = true;
        for (String arg : args) {
            String verdict = verify(new File(arg));
            allValid &= verdict.equals("VALID");
            String[] parts = verdict.split(" ", 2);
            System.out.println(parts[0] + " " + arg + (parts.length > 1 ? " " + parts[1] : ""));
        }
        System.exit(allValid ? 0 : 1);
    }
}
