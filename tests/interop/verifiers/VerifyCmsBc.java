// Interop verifier: BouncyCastle CMS (Debian's libbcprov-java + libbcpkix-java).
//
// Usage: java -cp bcprov.jar:bcpkix.jar:bcutil.jar:. VerifyCmsBc SIG[::DATA]...
// SIG is a DER or PEM CMS SignedData; DATA the signed file for a detached signature.
// Prints one line per SIG, "VALID <sig>" or "INVALID <sig> <reason>"; exits 0 when every
// signature is valid, 1 otherwise. Checks every SignerInfo with the signer certificate carried
// in the CMS: no trust decision (chain, CRL) here.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.Security;
import java.util.Base64;
import java.util.Collection;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.util.Store;

public final class VerifyCmsBc {
    static byte[] readDerOrPem(String path) throws Exception {
        byte[] raw = Files.readAllBytes(Paths.get(path));
        String head = new String(raw, 0, Math.min(raw.length, 11), StandardCharsets.US_ASCII);
        if (!head.equals("-----BEGIN ")) {
            return raw;
        }
        StringBuilder body = new StringBuilder();
        for (String line : new String(raw, StandardCharsets.US_ASCII).split("\r?\n")) {
            if (!line.startsWith("-----")) {
                body.append(line.trim());
            }
        }
        return Base64.getDecoder().decode(body.toString());
    }

    @SuppressWarnings("unchecked")
    static String verify(String sigPath, String dataPath) {
        try {
            byte[] sig = readDerOrPem(sigPath);
            CMSSignedData signed = dataPath == null
                ? new CMSSignedData(sig)
                : new CMSSignedData(new CMSProcessableByteArray(Files.readAllBytes(Paths.get(dataPath))), sig);
            if (signed.getSignedContent() == null) {
                return "INVALID detached signature and no data given";
            }
            Store<X509CertificateHolder> certs = signed.getCertificates();
            Collection<SignerInformation> signers = signed.getSignerInfos().getSigners();
            if (signers.isEmpty()) {
                return "INVALID no SignerInfo";
            }
            for (SignerInformation signer : signers) {
                Collection<X509CertificateHolder> match = certs.getMatches(signer.getSID());
                if (match.isEmpty()) {
                    return "INVALID signer certificate not in the CMS";
                }
                X509CertificateHolder cert = match.iterator().next();
                if (!signer.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(cert))) {
                    return "INVALID signature-value-mismatch";
                }
            }
            return "VALID";
        } catch (Exception e) {
            return ("INVALID " + e.getClass().getSimpleName() + ": " + e.getMessage()).replaceAll("\\s+", " ");
        }
    }

    public static void main(String[] args) {
        Security.addProvider(new BouncyCastleProvider());
        boolean allValid = true;
        for (String arg : args) {
            String[] parts = arg.split("::", 2);
            String verdict = verify(parts[0], parts.length > 1 ? parts[1] : null);
            allValid &= verdict.equals("VALID");
            String[] v = verdict.split(" ", 2);
            System.out.println(v[0] + " " + parts[0] + (v.length > 1 ? " " + v[1] : ""));
        }
        System.exit(allValid ? 0 : 1);
    }
}
