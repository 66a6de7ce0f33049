// Interop verifier: the JDK's own XML-DSig (JSR 105, javax.xml.crypto.dsig).
//
// Usage: java VerifyXmlJsr105 [--no-secure-validation] FILE...
// Prints one line per file, "VALID <file>" or "INVALID <file> <reason>"; exits 0 when every
// file is valid, 1 otherwise. Judges signature validity with the certificate embedded in
// KeyInfo only: trust (chain, CRL, profile rules) is Kyso's job and tested elsewhere.
// Many files per JVM because a JVM start costs about a second on the test machine.

import java.io.File;
import java.security.Key;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.xml.crypto.AlgorithmMethod;
import javax.xml.crypto.KeySelector;
import javax.xml.crypto.KeySelectorException;
import javax.xml.crypto.KeySelectorResult;
import javax.xml.crypto.XMLCryptoContext;
import javax.xml.crypto.XMLStructure;
import javax.xml.crypto.dsig.Reference;
import javax.xml.crypto.dsig.XMLSignature;
import javax.xml.crypto.dsig.XMLSignatureFactory;
import javax.xml.crypto.dsig.dom.DOMValidateContext;
import javax.xml.crypto.dsig.keyinfo.KeyInfo;
import javax.xml.crypto.dsig.keyinfo.X509Data;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

public final class VerifyXmlJsr105 {
    /** The public key of the first certificate in KeyInfo/X509Data: no trust decision. */
    static final class EmbeddedCertificate extends KeySelector {
        @Override
        public KeySelectorResult select(KeyInfo info, Purpose purpose, AlgorithmMethod method,
                XMLCryptoContext context) throws KeySelectorException {
            if (info == null) {
                throw new KeySelectorException("no KeyInfo");
            }
            for (Object item : info.getContent()) {
                if (item instanceof X509Data) {
                    for (Object entry : ((X509Data) item).getContent()) {
                        if (entry instanceof X509Certificate) {
                            final Key key = ((X509Certificate) entry).getPublicKey();
                            return () -> key;
                        }
                    }
                }
            }
            throw new KeySelectorException("no X509Certificate in KeyInfo");
        }
    }

    /** Java resolves "#id" only for attributes registered as IDs (no DTD here): Id, ID, id. */
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

    static String verify(File file, boolean secure) {
        try {
            DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
            dbf.setNamespaceAware(true);
            dbf.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            Document doc = dbf.newDocumentBuilder().parse(file);
            registerIds(doc.getDocumentElement());
            NodeList found = doc.getElementsByTagNameNS(XMLSignature.XMLNS, "Signature");
            if (found.getLength() == 0) {
                return "INVALID no ds:Signature";
            }
            DOMValidateContext context = new DOMValidateContext(new EmbeddedCertificate(), found.item(0));
            context.setProperty("org.jcp.xml.dsig.secureValidation", Boolean.valueOf(secure));
            XMLSignatureFactory factory = XMLSignatureFactory.getInstance("DOM");
            XMLSignature signature = factory.unmarshalXMLSignature(context);
            if (signature.validate(context)) {
                return "VALID";
            }
            StringBuilder why = new StringBuilder();
            if (!signature.getSignatureValue().validate(context)) {
                why.append(" signature-value-mismatch");
            }
            for (Object item : signature.getSignedInfo().getReferences()) {
                Reference ref = (Reference) item;
                if (!ref.validate(context)) {
                    why.append(" digest-mismatch:").append(ref.getURI());
                }
            }
            return "INVALID" + why;
        } catch (Exception e) {
            return "INVALID " + oneLine(e);
        }
    }

    public static void main(String[] args) {
        boolean secure = true;
        boolean allValid = true;
        for (String arg : args) {
            if (arg.equals("--no-secure-validation")) {
                secure = false;
                continue;
            }
            String verdict = verify(new File(arg), secure);
            allValid &= verdict.equals("VALID");
            String[] parts = verdict.split(" ", 2);
            System.out.println(parts[0] + " " + arg + (parts.length > 1 ? " " + parts[1] : ""));
        }
        System.exit(allValid ? 0 : 1);
    }
}
