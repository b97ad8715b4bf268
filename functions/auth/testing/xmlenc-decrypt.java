// An independent XML Encryption 1.1 reader for the SAML tests: Java's own JCE (not OpenSSL) and
// its own DOM parser, so it shares no code with the library that encrypts. It reads the first
// xenc:EncryptedData of a file, unwraps its EncryptedKey with the RSA private key (PKCS#8 PEM)
// under the parameters the XML states (XML-Enc 1.1 §5.5.2: rsa-oaep-mgf1p fixes MGF1 to SHA-1;
// xmlenc11#rsa-oaep takes MGF1 from xenc11:MGF, SHA-1 when absent; the OAEP digest from
// ds:DigestMethod, SHA-1 when absent), decrypts AES-256-GCM content (§5.2.4: 96-bit IV, then
// ciphertext, then 128-bit tag) and prints the plaintext. On stderr it names the OAEP digest and
// MGF it used. Run as a source file: `java xmlenc-decrypt.java message.xml key.pem`.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
import javax.crypto.spec.SecretKeySpec;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

public class XmlEncDecrypt {
  static final String XENC = "http://www.w3.org/2001/04/xmlenc#";
  static final String XENC11 = "http://www.w3.org/2009/xmlenc11#";
  static final String DSIG = "http://www.w3.org/2000/09/xmldsig#";

  static Element child(Element parent, String ns, String local) {
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element && ns.equals(n.getNamespaceURI()) && local.equals(n.getLocalName())) return (Element) n;
    }
    return null;
  }

  static String digestName(String uri) {
    switch (uri) {
      case "http://www.w3.org/2000/09/xmldsig#sha1": return "SHA-1";
      case "http://www.w3.org/2001/04/xmlenc#sha256": return "SHA-256";
      case "http://www.w3.org/2001/04/xmlenc#sha512": return "SHA-512";
      case XENC11 + "mgf1sha1": return "SHA-1";
      case XENC11 + "mgf1sha256": return "SHA-256";
      case XENC11 + "mgf1sha512": return "SHA-512";
      default: throw new IllegalArgumentException("unsupported digest " + uri);
    }
  }

  public static void main(String[] args) throws Exception {
    String pem = Files.readString(Path.of(args[1])).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(true);
    f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    Document doc = f.newDocumentBuilder().parse(Files.newInputStream(Path.of(args[0])));
    Element data = (Element) doc.getElementsByTagNameNS(XENC, "EncryptedData").item(0);
    String dataAlg = child(data, XENC, "EncryptionMethod").getAttribute("Algorithm");
    if (!dataAlg.equals(XENC11 + "aes256-gcm")) throw new IllegalArgumentException("unsupported content cipher " + dataAlg);
    Element encryptedKey = (Element) data.getElementsByTagNameNS(XENC, "EncryptedKey").item(0);
    Element method = child(encryptedKey, XENC, "EncryptionMethod");
    String keyAlg = method.getAttribute("Algorithm");
    Element digest = child(method, DSIG, "DigestMethod");
    Element mgf = child(method, XENC11, "MGF");
    String oaepDigest = digest == null ? "SHA-1" : digestName(digest.getAttribute("Algorithm"));
    String mgfDigest;
    if (keyAlg.equals(XENC + "rsa-oaep-mgf1p")) {
      if (mgf != null) throw new IllegalArgumentException("an MGF element is not allowed with rsa-oaep-mgf1p");
      mgfDigest = "SHA-1";
    } else if (keyAlg.equals(XENC11 + "rsa-oaep")) {
      mgfDigest = mgf == null ? "SHA-1" : digestName(mgf.getAttribute("Algorithm"));
    } else {
      throw new IllegalArgumentException("unsupported key transport " + keyAlg);
    }
    byte[] wrapped = Base64.getMimeDecoder().decode(child(child(encryptedKey, XENC, "CipherData"), XENC, "CipherValue").getTextContent());
    Cipher rsa = Cipher.getInstance("RSA/ECB/OAEPPadding");
    rsa.init(Cipher.DECRYPT_MODE, key, new OAEPParameterSpec(oaepDigest, "MGF1", new MGF1ParameterSpec(mgfDigest), PSource.PSpecified.DEFAULT));
    byte[] cek = rsa.doFinal(wrapped);
    byte[] content = Base64.getMimeDecoder().decode(child(child(data, XENC, "CipherData"), XENC, "CipherValue").getTextContent());
    Cipher aes = Cipher.getInstance("AES/GCM/NoPadding");
    aes.init(Cipher.DECRYPT_MODE, new SecretKeySpec(cek, "AES"), new GCMParameterSpec(128, Arrays.copyOfRange(content, 0, 12)));
    byte[] plain = aes.doFinal(content, 12, content.length - 12);
    System.err.println("key transport " + keyAlg + " digest " + oaepDigest + " mgf1 " + mgfDigest);
    System.out.print(new String(plain, StandardCharsets.UTF_8));
  }
}
