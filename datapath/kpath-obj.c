/*
 * kpath-obj.c -- the kernel fast path's compiled BPF object
 * (datapath/bpf/kpath.bpf.c, built by clang into $(BUILD)/bpf/), embedded
 * in the binary so that the agent needs no file at run time.
 */
__asm__(".section .rodata\n"
        ".balign 8\n"
        ".global kpath_bpf_obj\n"
        "kpath_bpf_obj:\n"
        ".incbin \"" KPATH_BPF_OBJ "\"\n"
        ".global kpath_bpf_obj_end\n"
        "kpath_bpf_obj_end:\n"
        ".previous\n");
