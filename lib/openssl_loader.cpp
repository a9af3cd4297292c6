#include "openssl_loader.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

// Every OpenSSL function that wsgather, Asio and Beast call. wsgather defines
// each of them below, forwarding to libssl's; one missing here is an
// undefined reference at link time, so this list cannot fall out of date
// unnoticed.
#define WSGATHER_OPENSSL_FUNCTIONS(X)                                                                         \
    X(BIO_ctrl) X(BIO_ctrl_pending) X(BIO_free) X(BIO_new_bio_pair) X(BIO_read) X(BIO_write)                  \
    X(ERR_clear_error) X(ERR_get_error) X(ERR_lib_error_string) X(ERR_reason_error_string)                    \
    X(SSL_CTX_check_private_key) X(SSL_CTX_ctrl) X(SSL_CTX_free) X(SSL_CTX_get_default_passwd_cb_userdata)    \
    X(SSL_CTX_get_ex_data) X(SSL_CTX_get_verify_callback) X(SSL_CTX_load_verify_locations) X(SSL_CTX_new)     \
    X(SSL_CTX_set_default_passwd_cb_userdata) X(SSL_CTX_set_default_verify_paths) X(SSL_CTX_set_ex_data)      \
    X(SSL_CTX_set_options) X(SSL_CTX_set_verify) X(SSL_CTX_use_PrivateKey_file)                               \
    X(SSL_CTX_use_certificate_chain_file) X(SSL_accept) X(SSL_connect) X(SSL_ctrl) X(SSL_free)                \
    X(SSL_get0_param) X(SSL_get_error) X(SSL_get_ex_data) X(SSL_get_shutdown) X(SSL_get_verify_result)        \
    X(SSL_new) X(SSL_read) X(SSL_set_bio) X(SSL_set_ex_data) X(SSL_shutdown) X(SSL_write)                     \
    X(TLS_client_method) X(X509_VERIFY_PARAM_set1_host) X(X509_VERIFY_PARAM_set1_ip_asc)                      \
    X(X509_VERIFY_PARAM_set_hostflags) X(X509_verify_cert_error_string)

namespace wsgather {
namespace {

struct OpenSsl {
#define WSGATHER_POINTER(name) decltype(&::name) name = nullptr;
    WSGATHER_OPENSSL_FUNCTIONS(WSGATHER_POINTER)
#undef WSGATHER_POINTER
    std::string error;
};

OpenSsl load() {
    OpenSsl openssl;
    // The soname the headers were written for: another major version is another ABI.
    std::string library = fmt::format("libssl.so.{}", OPENSSL_SHLIB_VERSION);
    // Never closed: OpenSSL cleans up at exit, from its own code.
    void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        openssl.error = fmt::format("cannot load OpenSSL for TLS: {}", dlerror());
        return openssl;
    }
    // dlsym on libssl's handle also finds libcrypto's functions: it searches
    // the libraries libssl needs too.
#define WSGATHER_FIND(name)                                                                         \
    openssl.name = reinterpret_cast<decltype(openssl.name)>(dlsym(handle, #name));                \
    if (!openssl.name) {                                                                            \
        openssl.error = fmt::format("cannot use OpenSSL for TLS: {} has no {}", library, #name); \
        return openssl;                                                                             \
    }
    WSGATHER_OPENSSL_FUNCTIONS(WSGATHER_FIND)
#undef WSGATHER_FIND
    return openssl;
}

const OpenSsl& loaded_once() {
    static const OpenSsl openssl = load();
    return openssl;
}

// What every forwarding function below calls.
const OpenSsl& openssl() {
    const OpenSsl& functions = loaded_once();
    if (!functions.error.empty()) {
        // load_openssl() has reported this already, and no TLS work starts
        // after it fails: reaching here is a bug.
        std::fprintf(stderr, "wsgather: %s\n", functions.error.c_str());
        std::abort();
    }
    return functions;
}

}  // namespace

std::string load_openssl() {
    return loaded_once().error;
}

}  // namespace wsgather

// The definitions repeat OpenSSL's declarations, which the compiler checks
// them against.
using wsgather::openssl;

extern "C" {

long BIO_ctrl(BIO* bio, int command, long number, void* argument) {
    return openssl().BIO_ctrl(bio, command, number, argument);
}
size_t BIO_ctrl_pending(BIO* bio) { return openssl().BIO_ctrl_pending(bio); }
int BIO_free(BIO* bio) { return openssl().BIO_free(bio); }
int BIO_new_bio_pair(BIO** bio1, size_t buffer1, BIO** bio2, size_t buffer2) {
    return openssl().BIO_new_bio_pair(bio1, buffer1, bio2, buffer2);
}
int BIO_read(BIO* bio, void* data, int size) { return openssl().BIO_read(bio, data, size); }
int BIO_write(BIO* bio, const void* data, int size) { return openssl().BIO_write(bio, data, size); }

void ERR_clear_error(void) { openssl().ERR_clear_error(); }
unsigned long ERR_get_error(void) { return openssl().ERR_get_error(); }
const char* ERR_lib_error_string(unsigned long error) { return openssl().ERR_lib_error_string(error); }
const char* ERR_reason_error_string(unsigned long error) { return openssl().ERR_reason_error_string(error); }

int SSL_CTX_check_private_key(const SSL_CTX* context) { return openssl().SSL_CTX_check_private_key(context); }
long SSL_CTX_ctrl(SSL_CTX* context, int command, long number, void* argument) {
    return openssl().SSL_CTX_ctrl(context, command, number, argument);
}
void SSL_CTX_free(SSL_CTX* context) { openssl().SSL_CTX_free(context); }
void* SSL_CTX_get_default_passwd_cb_userdata(SSL_CTX* context) {
    return openssl().SSL_CTX_get_default_passwd_cb_userdata(context);
}
void* SSL_CTX_get_ex_data(const SSL_CTX* context, int index) { return openssl().SSL_CTX_get_ex_data(context, index); }
SSL_verify_cb SSL_CTX_get_verify_callback(const SSL_CTX* context) {
    return openssl().SSL_CTX_get_verify_callback(context);
}
int SSL_CTX_load_verify_locations(SSL_CTX* context, const char* file, const char* directory) {
    return openssl().SSL_CTX_load_verify_locations(context, file, directory);
}
SSL_CTX* SSL_CTX_new(const SSL_METHOD* method) { return openssl().SSL_CTX_new(method); }
void SSL_CTX_set_default_passwd_cb_userdata(SSL_CTX* context, void* data) {
    openssl().SSL_CTX_set_default_passwd_cb_userdata(context, data);
}
int SSL_CTX_set_default_verify_paths(SSL_CTX* context) { return openssl().SSL_CTX_set_default_verify_paths(context); }
int SSL_CTX_set_ex_data(SSL_CTX* context, int index, void* data) {
    return openssl().SSL_CTX_set_ex_data(context, index, data);
}
uint64_t SSL_CTX_set_options(SSL_CTX* context, uint64_t options) {
    return openssl().SSL_CTX_set_options(context, options);
}
void SSL_CTX_set_verify(SSL_CTX* context, int mode, SSL_verify_cb callback) {
    openssl().SSL_CTX_set_verify(context, mode, callback);
}
int SSL_CTX_use_PrivateKey_file(SSL_CTX* context, const char* file, int type) {
    return openssl().SSL_CTX_use_PrivateKey_file(context, file, type);
}
int SSL_CTX_use_certificate_chain_file(SSL_CTX* context, const char* file) {
    return openssl().SSL_CTX_use_certificate_chain_file(context, file);
}

int SSL_accept(SSL* ssl) { return openssl().SSL_accept(ssl); }
int SSL_connect(SSL* ssl) { return openssl().SSL_connect(ssl); }
long SSL_ctrl(SSL* ssl, int command, long number, void* argument) {
    return openssl().SSL_ctrl(ssl, command, number, argument);
}
void SSL_free(SSL* ssl) { openssl().SSL_free(ssl); }
X509_VERIFY_PARAM* SSL_get0_param(SSL* ssl) { return openssl().SSL_get0_param(ssl); }
int SSL_get_error(const SSL* ssl, int result) { return openssl().SSL_get_error(ssl, result); }
void* SSL_get_ex_data(const SSL* ssl, int index) { return openssl().SSL_get_ex_data(ssl, index); }
int SSL_get_shutdown(const SSL* ssl) { return openssl().SSL_get_shutdown(ssl); }
long SSL_get_verify_result(const SSL* ssl) { return openssl().SSL_get_verify_result(ssl); }
SSL* SSL_new(SSL_CTX* context) { return openssl().SSL_new(context); }
int SSL_read(SSL* ssl, void* data, int size) { return openssl().SSL_read(ssl, data, size); }
void SSL_set_bio(SSL* ssl, BIO* read_bio, BIO* write_bio) { openssl().SSL_set_bio(ssl, read_bio, write_bio); }
int SSL_set_ex_data(SSL* ssl, int index, void* data) { return openssl().SSL_set_ex_data(ssl, index, data); }
int SSL_shutdown(SSL* ssl) { return openssl().SSL_shutdown(ssl); }
int SSL_write(SSL* ssl, const void* data, int size) { return openssl().SSL_write(ssl, data, size); }
const SSL_METHOD* TLS_client_method(void) { return openssl().TLS_client_method(); }

int X509_VERIFY_PARAM_set1_host(X509_VERIFY_PARAM* param, const char* name, size_t length) {
    return openssl().X509_VERIFY_PARAM_set1_host(param, name, length);
}
int X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM* param, const char* address) {
    return openssl().X509_VERIFY_PARAM_set1_ip_asc(param, address);
}
void X509_VERIFY_PARAM_set_hostflags(X509_VERIFY_PARAM* param, unsigned int flags) {
    openssl().X509_VERIFY_PARAM_set_hostflags(param, flags);
}
const char* X509_verify_cert_error_string(long result) { return openssl().X509_verify_cert_error_string(result); }

}  // extern "C"
