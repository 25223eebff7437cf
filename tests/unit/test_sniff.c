/* test_sniff.c: naming files that are not checkpoints (formats/sniff.h),
 * telling a pickled nn.Module from a state_dict, and shard file names
 * (core/ckpt_note.h). */
#include <string.h>

#include "check.h"

#include "../../tui/core/ckpt_note.h"
#include "../../tui/formats/sniff.h"

/* What sniff_bytes says of the whole buffer s (n bytes), or "" */
static const char *what(const char *s, size_t n)
{
    static char buf[256];
    sniff_bytes((const unsigned char *)s, n, n, buf, sizeof buf);
    return buf;
}

#define WHAT(lit) what(lit, sizeof lit - 1)

static int has(const char *got, const char *want)
{
    return strstr(got, want) != NULL;
}

static void test_kinds(void)
{
    CHECK(has(what("", 0), "an empty file"));
    CHECK(has(WHAT("hello\nworld\n"), "looks like text"));
    CHECK(has(WHAT("caf\xc3\xa9 au lait\n"), "looks like text"));
    CHECK(has(WHAT("# c\n\nmodel:\n  lr: 1\n"), "a YAML file"));
    CHECK(has(WHAT("---\n- a\n"), "a YAML file"));
    CHECK(has(WHAT("  {\"a\": 1}"), "a JSON file"));
    CHECK(has(WHAT("\xef\xbb\xbf[1]"), "a JSON file"));
    CHECK(has(WHAT("\n<!DOCTYPE HTML><p>403</p>"), "an HTML page"));
    CHECK(has(WHAT("<html>x</html>"), "an HTML page"));
    CHECK(has(WHAT("import torch\n"), "a script"));
    CHECK(has(WHAT("\x93NUMPY\x01\x00v\x00{'descr'"), "a NumPy array"));
    CHECK(has(WHAT("\x89PNG\r\n\x1a\n\0\0"), "a PNG image"));
    CHECK(has(WHAT("\x1f\x8b\x08\0"), "a gzip file"));
    CHECK(has(WHAT("7z\xbc\xaf\x27\x1c\0\x04"), "a 7z archive"));
    CHECK(has(WHAT("\x89HDF\r\n\x1a\n\0"), "an HDF5 file"));
    CHECK(has(WHAT("GGUF\x03\0\0\0"), "a GGUF file"));
    CHECK(has(WHAT("\x08\x08\x12\x07pytorch"), "an ONNX model"));
    CHECK(has(WHAT("version https://git-lfs.github.com/spec/v1\noid x\n"),
              "a Git LFS pointer"));
    /* pickles of protocol 0 and 1 (as pickle.dumps writes {'a': 1}) */
    CHECK(has(WHAT("(dp0\nVa\np1\nI1\ns."), "protocol 0 or 1"));
    CHECK(has(WHAT("}q\0X\x01\0\0\0aq\x01K\x01s."), "protocol 0 or 1"));
    CHECK(has(WHAT("ccollections\nOrderedDict\nq\0)Rq\x01."),
              "protocol 0 or 1"));
    /* no STOP at the end: not a pickle; "(d" text is text */
    CHECK(has(WHAT("(dp0\nVa\n"), "looks like text"));
    /* not recognized: left to the safetensors reader */
    CHECK(strcmp(WHAT("\x01\x02\x03\x04\x05"), "") == 0);
    CHECK(strcmp(WHAT("\xff\xff\xff\xff\xff\xff\xff\xff{}      "), "") == 0);
    CHECK(strcmp(WHAT("\x10\0\0\0\0\0\0\0{\"a\":1}"), "") == 0);
    CHECK(strcmp(WHAT("bad \xc3( utf8"), "") == 0);
    /* a UTF-8 sequence cut at the end of the head, when the file goes on */
    char b[8] = "abc\xe2\x82";
    char buf[64];
    CHECK(sniff_bytes((const unsigned char *)b, 5, 100, buf, sizeof buf) ==
          1 && has(buf, "looks like text"));
    CHECK(sniff_bytes((const unsigned char *)b, 5, 5, buf, sizeof buf) == 0);
}

static int model(const char *s, size_t n, char *cls)
{
    return sniff_pickle_model((const unsigned char *)s, n, cls, 128);
}

static void test_pickled_model(void)
{
    char cls[128];
    static const char net[] =
        "\x80\x02" "c__main__\nNet\nq\0)\x81q\x01}q\x02(X\x08\0\0\0training"
        "q\x03\x88X\x0b\0\0\0_parametersq\x04}X\x08\0\0\0_modulesq\x05}u"
        "b.";
    CHECK(model(net, sizeof net - 1, cls) == 1);
    CHECK_STR(cls, "__main__.Net");
    static const char rn[] =
        "\x80\x02" "ctorchvision.models.resnet\nResNet\nr\0\0\0\0)\x81"
        "_parameters _modules";
    CHECK(model(rn, sizeof rn - 1, cls) == 1);
    CHECK_STR(cls, "torchvision.models.resnet.ResNet");
    /* a dict holding a module */
    static const char inside[] =
        "\x80\x02}q\0(X\x05\0\0\0modelq\x01c__main__\nNet\nq\x02)\x81"
        "_parameters _modules";
    CHECK(model(inside, sizeof inside - 1, cls) == 2);
    CHECK_STR(cls, "");
    /* no nn.Module state: not a model (a hostile class stays refused by
     * name) */
    static const char bare[] =
        "\x80\x02" "ctorchvision.models.resnet\nResNet\n)\x81.";
    CHECK(model(bare, sizeof bare - 1, cls) == 0);
    static const char script[] =
        "\x80\x02" "c__torch__.evil\nM\n)\x81 _parameters _modules";
    CHECK(model(script, sizeof script - 1, cls) == 2);
    CHECK(model("", 0, cls) == 0);
}

static void test_shard_names(void)
{
    unsigned no = 0, of = 0;
    char idx[128];
    CHECK(ckpt_shard_name("a/b/model-00001-of-00004.safetensors", &no, &of,
                          idx, sizeof idx) == 1);
    CHECK(no == 1 && of == 4);
    CHECK_STR(idx, "model.safetensors.index.json");
    CHECK(ckpt_shard_name("pytorch_model-00002-of-00002.bin", &no, &of, idx,
                          sizeof idx) == 1);
    CHECK_STR(idx, "pytorch_model.bin.index.json");
    CHECK(ckpt_shard_name("my-model-3-of-12.safetensors", &no, &of, idx,
                          sizeof idx) == 1);
    CHECK(no == 3 && of == 12);
    CHECK_STR(idx, "my-model.safetensors.index.json");
    CHECK(ckpt_shard_name("model-00001-of-00001.safetensors", &no, &of, idx,
                          sizeof idx) == 0);
    CHECK(ckpt_shard_name("model-00005-of-00004.safetensors", &no, &of, idx,
                          sizeof idx) == 0);
    CHECK(ckpt_shard_name("model-00000-of-00004.safetensors", &no, &of, idx,
                          sizeof idx) == 0);
    CHECK(ckpt_shard_name("model.safetensors", &no, &of, idx, sizeof idx) ==
          0);
    CHECK(ckpt_shard_name("-00001-of-00004.safetensors", &no, &of, idx,
                          sizeof idx) == 0);
    CHECK(ckpt_shard_name("model-x-of-00004.safetensors", &no, &of, idx,
                          sizeof idx) == 0);
    CHECK(ckpt_shard_name("model-00001-of-00004", &no, &of, idx,
                          sizeof idx) == 0);
    CHECK(ckpt_shard_name("d-1-of-2.x/model.bin", &no, &of, idx,
                          sizeof idx) == 0);
}

int main(void)
{
    test_kinds();
    test_pickled_model();
    test_shard_names();
    return check_report();
}
